// Package load simulates many appliances against a watchtower for load
// tests: each site is one MQTT v5 session that behaves like
// appliance/cloudsync on the wire (client id cst-{site}, the site's
// credentials, a Death as its will, a Birth after connecting, the
// subscription to its downstream topics, QoS 1 records with an
// idempotency key each, one record in flight per charger and at most
// Window per site, a clean disconnect with the will), without chargers,
// bbolt or an outbox behind it. Each simulated charger lives sessions
// whose records (status, transaction started/updated/stopped with
// revisions, batched readings in columns, events) are generated on the
// fly from a virtual clock.
//
// [Connect] opens the sessions, [Fleet.Run] publishes for a record budget
// or a duration and measures what the broker acknowledged (records/s,
// PUBACK latency, refusals by reason code), [Fleet.Close] disconnects.
// [Provision] creates and enrolls sites through the watchtower's JSON API;
// [Verify] checks through it that the watchtower stored what was
// acknowledged. The broker and the credentials come from the caller, so
// the same load runs against the watchtower's embedded broker or an
// external one (Mosquitto) the watchtower consumes from.
package load

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// Defaults of Config.
const (
	DefaultChargers           = 10
	DefaultWindow             = 16 // cloudsync's window
	DefaultReadingsPerSession = 12 // an hour's session in 5-minute batches
	DefaultSamplesPerReadings = 20 // 5 minutes of 15-second samples
	DefaultPublishTimeout     = 30 * time.Second
	DefaultDuration           = 10 * time.Second
	// connectAtOnce bounds the sites connecting at once.
	connectAtOnce = 16
)

// Site is one site's MQTT credentials.
type Site struct {
	ID string
	// Username defaults to ID (the watchtower's rule).
	Username string
	Password string
}

func (s Site) username() string { return cmp.Or(s.Username, s.ID) }

// Config configures a fleet.
type Config struct {
	// Broker is the MQTT v5 broker's URL: tcp:// or mqtt:// (plain),
	// tls://, mqtts:// or ssl:// (TLS), host and port.
	Broker string
	// TLS configures a TLS broker (nil: syncproto.BrokerTLS, the
	// system's roots); a plain one ignores it.
	TLS *tls.Config
	// Sites are the simulated appliances, one MQTT session each.
	Sites []Site
	// Chargers per site (default DefaultChargers).
	Chargers int
	// Window bounds a site's publishes awaiting their PUBACK (default
	// DefaultWindow); each charger has one at most, so a site has at
	// most min(Window, Chargers).
	Window int
	// ReadingsPerSession and SamplesPerReadings shape the sessions: that
	// many Readings records, each of that many samples of two series
	// (defaults DefaultReadingsPerSession, DefaultSamplesPerReadings).
	ReadingsPerSession int
	SamplesPerReadings int
	// PublishTimeout bounds the wait for one PUBACK (default
	// DefaultPublishTimeout); a site whose publish times out stops.
	PublishTimeout time.Duration
	// Progress is the interval of progress log lines (0: none).
	Progress time.Duration
	Logger   *slog.Logger // nil: discard

	brokerURL *url.URL
}

// check fills the defaults and checks cfg.
func (cfg *Config) check() error {
	u, err := syncproto.ParseBrokerURL(cfg.Broker, "")
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if len(cfg.Sites) == 0 {
		return errors.New("load: no sites")
	}
	if tlsConf := syncproto.BrokerTLS(u, nil); tlsConf == nil {
		cfg.TLS = nil
	} else if cfg.TLS == nil {
		cfg.TLS = tlsConf
	}
	cfg.brokerURL = u
	seen := map[string]bool{}
	for _, s := range cfg.Sites {
		if err := syncproto.ValidateSiteID(s.ID); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if seen[s.ID] {
			return fmt.Errorf("load: site %s listed twice", s.ID)
		}
		seen[s.ID] = true
	}
	cfg.Chargers = cmp.Or(cfg.Chargers, DefaultChargers)
	cfg.Window = cmp.Or(cfg.Window, DefaultWindow)
	cfg.ReadingsPerSession = cmp.Or(cfg.ReadingsPerSession, DefaultReadingsPerSession)
	cfg.SamplesPerReadings = cmp.Or(cfg.SamplesPerReadings, DefaultSamplesPerReadings)
	cfg.PublishTimeout = cmp.Or(cfg.PublishTimeout, DefaultPublishTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Two columns a sample: a Readings record holds at most
	// syncproto.MaxSamples samples, and cloudsync sends 4096 values at
	// most in one.
	switch {
	case cfg.Chargers < 0 || cfg.Window < 0 || cfg.ReadingsPerSession < 0 || cfg.PublishTimeout < 0:
		return errors.New("load: negative chargers, window, readings or publish timeout")
	case cfg.SamplesPerReadings < 1 || cfg.SamplesPerReadings > 2048:
		return fmt.Errorf("load: %d samples per readings record: want 1 to 2048", cfg.SamplesPerReadings)
	}
	return nil
}

// Fleet is a set of connected simulated sites.
type Fleet struct {
	cfg   Config
	sites []*site
	mu    sync.Mutex // one Run at a time
}

// Connect connects every site (a few at a time), each publishing its Birth
// and subscribing to its downstream topics. It fails if any site cannot
// connect, closing those that did.
func Connect(ctx context.Context, cfg Config) (*Fleet, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var raw [4]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	run, epoch := hex.EncodeToString(raw[:]), time.Now()
	f := &Fleet{cfg: cfg}
	for _, creds := range cfg.Sites {
		f.sites = append(f.sites, newSite(&f.cfg, creds, run, epoch))
	}
	errs := make([]error, len(f.sites))
	sem := make(chan struct{}, connectAtOnce)
	var wg sync.WaitGroup
	for i, s := range f.sites {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.connect(ctx)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Close()
		return nil, fmt.Errorf("load: %w", err)
	}
	f.cfg.Logger.Info("sites connected", "sites", len(f.sites), "chargers", f.cfg.Chargers, "broker", f.cfg.brokerURL.Redacted())
	return f, nil
}

// Close disconnects every site with its will, so the cloud marks it
// offline.
func (f *Fleet) Close() {
	var wg sync.WaitGroup
	for _, s := range f.sites {
		wg.Go(s.close)
	}
	wg.Wait()
}

// Budget ends a Run: after Records records were sent (0: no limit) or
// after Duration (0: DefaultDuration if Records is 0, else no limit),
// whichever comes first. Publishes in flight then are waited for.
type Budget struct {
	Records  int64
	Duration time.Duration
}

// run is the shared state of one Run.
type run struct {
	acked, refused atomic.Int64
	latency        sim.Histogram
}

// Run publishes every site's records until the budget is spent, waits
// for the PUBACKs in flight, and returns what the broker acknowledged.
// The error is ctx's if it ended the run; a site whose link failed is
// reported in Result.Errors and counted in Result.LinksLost.
func (f *Fleet) Run(ctx context.Context, b Budget) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b.Records < 0 || b.Duration < 0 {
		return Result{}, errors.New("load: negative budget")
	}
	if b.Records == 0 && b.Duration == 0 {
		b.Duration = DefaultDuration
	}
	var budget *atomic.Int64
	if b.Records > 0 {
		budget = new(atomic.Int64)
		budget.Store(b.Records)
	}
	live := 0
	for _, s := range f.sites {
		s.mu.Lock()
		s.tally = newTally()
		s.mu.Unlock()
		if !s.broken.Load() {
			live++
		}
	}
	if live == 0 {
		return Result{}, errors.New("load: no site is connected")
	}
	r := &run{}
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	if b.Duration > 0 {
		t := time.AfterFunc(b.Duration, halt)
		defer t.Stop()
	}
	done := make(chan struct{})
	if f.cfg.Progress > 0 {
		go f.progress(r, done)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range f.sites {
		wg.Go(func() { s.pump(ctx, stop, budget, r) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	halt()
	close(done)
	res := f.result(r, elapsed)
	res.Start = start
	if res.LinksLost > 0 {
		f.cfg.Logger.Warn("sites lost their link", "sites", res.LinksLost, "first", res.Errors[0])
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load: %w", err)
	}
	return res, nil
}

// progress logs the rate now and then until done closes.
func (f *Fleet) progress(r *run, done <-chan struct{}) {
	t := time.NewTicker(f.cfg.Progress)
	defer t.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			acked := r.acked.Load()
			f.cfg.Logger.Info("progress", "acked", acked, "refused", r.refused.Load(),
				"rate", fmt.Sprintf("%.0f/s", float64(acked-last)/now.Sub(lastAt).Seconds()),
				"p50", r.latency.Quantile(0.5), "p99", r.latency.Quantile(0.99))
			last, lastAt = acked, now
		}
	}
}

// Result is what a Run came to.
type Result struct {
	// Sites is how many sites sent; Chargers is per site.
	Sites, Chargers int
	// Acked counts records the broker acknowledged (PUBACK success), by
	// kind in ByKind; Rows the readings values among them.
	Acked  int64
	ByKind map[syncproto.Kind]int64
	Rows   int64
	// Refused counts records answered with a PUBACK reason code of 0x80
	// or more, by code (0x80 unspecified error: the watchtower could not
	// store it; 0x99 payload format invalid: it refused it).
	Refused map[byte]int64
	// Failed counts records that got no PUBACK (link lost, timeout,
	// cancelled): the watchtower may or may not have stored them.
	Failed int64
	// LinksLost counts sites whose link failed during the run; Errors
	// says why (the first few).
	LinksLost int
	Errors    []string
	// Downstream counts messages the cloud sent the sites (since they
	// connected).
	Downstream int64
	// Start is when the first publish went out; Elapsed is the run's
	// length, from then to the last PUBACK; PerSecond is Acked / Elapsed.
	Start     time.Time
	Elapsed   time.Duration
	PerSecond float64
	// Latency of the acknowledged publishes, publish to PUBACK.
	Latency            *sim.Histogram
	P50, P90, P99, Max time.Duration
	// PerSite is what each site's publishes came to, for Verify.
	PerSite []SiteResult
}

// SiteResult is what one site's acknowledged records should have left in
// the watchtower's store.
type SiteResult struct {
	ID string
	// Transactions maps each session with an acknowledged record to the
	// highest revision acknowledged.
	Transactions map[int64]int
	// Readings counts the values acknowledged; Chargers the chargers with
	// an acknowledged status.
	Readings int64
	Chargers int
	// Failed counts records without a PUBACK: stored or not.
	Failed int64
}

func (f *Fleet) result(r *run, elapsed time.Duration) Result {
	res := Result{Chargers: f.cfg.Chargers, ByKind: map[syncproto.Kind]int64{}, Refused: map[byte]int64{},
		Elapsed: elapsed, Latency: &r.latency,
		P50: r.latency.Quantile(0.50), P90: r.latency.Quantile(0.90), P99: r.latency.Quantile(0.99), Max: r.latency.Max()}
	for _, s := range f.sites {
		s.mu.Lock()
		t, err := s.tally, s.err
		s.mu.Unlock()
		if sum(t.byKind) > 0 || t.failed > 0 || sum(t.refused) > 0 {
			res.Sites++
		}
		for k, n := range t.byKind {
			res.ByKind[k] += n
			res.Acked += n
		}
		for c, n := range t.refused {
			res.Refused[c] += n
		}
		res.Rows += t.rows
		res.Failed += t.failed
		res.Downstream += s.downstream.Load()
		if err != nil {
			res.LinksLost++
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, s.creds.ID+": "+err.Error())
			}
		}
		res.PerSite = append(res.PerSite, SiteResult{ID: s.creds.ID, Transactions: maps.Clone(t.txRev), Readings: t.rows,
			Chargers: len(t.chargers), Failed: t.failed})
	}
	if elapsed > 0 {
		res.PerSecond = float64(res.Acked) / elapsed.Seconds()
	}
	return res
}

func sum[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// RefusedTotal counts the refused records of every code.
func (r Result) RefusedTotal() int64 { return sum(r.Refused) }

// String formats the result for people: one summary line, then the mix.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sites=%d chargers/site=%d acked=%d refused=%d failed=%d elapsed=%s rate=%.0f records/s latency p50=%s p90=%s p99=%s max=%s\n",
		r.Sites, r.Chargers, r.Acked, r.RefusedTotal(), r.Failed, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.P50, r.P90, r.P99, r.Max)
	fmt.Fprintf(&b, "acked by kind:")
	for _, k := range slices.Sorted(maps.Keys(r.ByKind)) {
		fmt.Fprintf(&b, " %s=%d", k, r.ByKind[k])
	}
	fmt.Fprintf(&b, " (readings values %d)", r.Rows)
	if len(r.Refused) > 0 {
		fmt.Fprintf(&b, "\nrefused by PUBACK reason:")
		for _, c := range slices.Sorted(maps.Keys(r.Refused)) {
			fmt.Fprintf(&b, " 0x%02x=%d", c, r.Refused[c])
		}
	}
	if r.LinksLost > 0 {
		fmt.Fprintf(&b, "\nlinks lost: %d (%s)", r.LinksLost, strings.Join(r.Errors, "; "))
	}
	return b.String()
}

// Run connects cfg's sites, runs the budget, and disconnects.
func Run(ctx context.Context, cfg Config, b Budget) (Result, error) {
	f, err := Connect(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	return f.Run(ctx, b)
}
