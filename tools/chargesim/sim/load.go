package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// LoadConfig configures a load run.
type LoadConfig struct {
	// URL is the CSMS's base websocket URL; each connection's id is appended.
	URL string
	// Stations is the number of connections (default 1).
	Stations int
	// IDPrefix names the connections like [Run] does (default "load-").
	IDPrefix string
	// Version is the OCPP version spoken (default 1.6).
	Version ocppj.Version
	// Action is what each connection sends: "Heartbeat" (default) or
	// "MeterValues": the periodic meter values of a transaction started
	// before the measurement (and stopped after it). A 1.6 connection
	// sends them as MeterValues; a 2.x connection as TransactionEvent
	// Updated (triggerReason MeterValuePeriodic), the message a 2.x charger
	// sends periodically during a transaction ("TransactionEvent" is
	// accepted as another name for it).
	Action string
	// Rate is the total calls per second over all connections, each
	// connection sending at an even pace with start times spread across
	// the interval; 0 saturates (next call as soon as the last is answered).
	Rate float64
	// Duration of the measurement (default 10s).
	Duration time.Duration
	// CallsPerStation ends a connection after this many calls (0: no limit).
	CallsPerStation int
	// Ramp is the wait between connection starts.
	Ramp time.Duration
	// Password returns a connection's Basic auth password ("" for none).
	Password    func(id string) string
	TLSConfig   *tls.Config
	CallTimeout time.Duration
	Clock       Clock
	Logger      *slog.Logger
}

// LoadResult is the outcome of a load run.
type LoadResult struct {
	// Connected counts connections that connected and set up.
	Connected int
	// Calls, OK and Failed count the measured calls.
	Calls, OK, Failed int64
	// Elapsed is the measurement's length; PerSecond is OK / Elapsed.
	Elapsed   time.Duration
	PerSecond float64
	// Latency of the successful calls.
	Latency       *Histogram
	P50, P99, Max time.Duration
}

// String formats the result for people.
func (r LoadResult) String() string {
	return fmt.Sprintf("connections=%d calls=%d ok=%d failed=%d elapsed=%s rate=%.1f/s latency p50=%s p99=%s max=%s",
		r.Connected, r.Calls, r.OK, r.Failed, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.P50, r.P99, r.Max)
}

// loadScript is the version-specific part of a load connection.
type loadScript interface {
	// setup runs before the measurement (boot, start a transaction).
	setup(ctx context.Context, c *rpc.Conn) error
	// next returns the action and payload of the next measured call.
	next(now time.Time) (action string, payload json.RawMessage, err error)
	// teardown runs after the measurement (stop the transaction).
	teardown(ctx context.Context, c *rpc.Conn)
}

// Load connects cfg.Stations connections, sets them up, then sends
// cfg.Action for cfg.Duration and reports counts and latencies.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Stations <= 0 {
		cfg.Stations = 1
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "load-"
	}
	if cfg.Action == "" {
		cfg.Action = "Heartbeat"
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rate < 0 {
		return LoadResult{}, fmt.Errorf("%w: negative rate", ErrConfig)
	}
	if cfg.Version == "" {
		cfg.Version = ocppj.V16
	}
	if _, err := newLoadScript(cfg.Version, cfg.Action, "", cfg.Clock); err != nil {
		return LoadResult{}, err
	}

	var (
		res       = LoadResult{Latency: &Histogram{}}
		calls, ok atomic.Int64
		connected atomic.Int64
		setupWG   sync.WaitGroup
		runWG     sync.WaitGroup
		begin     = make(chan struct{})
		end       = make(chan struct{})
	)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Stations) / cfg.Rate * float64(time.Second))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	worker := func(i int) {
		defer runWG.Done()
		id := StationID(cfg.IDPrefix, i+1)
		script, _ := newLoadScript(cfg.Version, cfg.Action, id, cfg.Clock)
		opts := rpc.DialOptions{
			Config:    rpc.Config{Logger: cfg.Logger, CallTimeout: cfg.CallTimeout},
			Versions:  []ocppj.Version{cfg.Version},
			TLSConfig: cfg.TLSConfig,
			ID:        id,
		}
		if cfg.Password != nil {
			if pw := cfg.Password(id); pw != "" {
				opts.Username, opts.Password = id, pw
			}
		}
		c, err := rpc.Dial(ctx, StationURL(cfg.URL, id), opts)
		if err == nil {
			err = script.setup(ctx, c)
		}
		if err != nil {
			cfg.Logger.Warn("load connection failed", "station", id, "err", err)
			setupWG.Done()
			if c != nil {
				c.Close(1000, "bye")
			}
			return
		}
		defer c.Close(1000, "bye")
		connected.Add(1)
		setupWG.Done()
		select {
		case <-begin:
		case <-ctx.Done():
			return
		}
		var due <-chan time.Time
		if interval > 0 {
			due = cfg.Clock.After(interval * time.Duration(i) / time.Duration(cfg.Stations))
		}
		for n := 0; cfg.CallsPerStation == 0 || n < cfg.CallsPerStation; n++ {
			if due != nil {
				select {
				case <-due:
					due = cfg.Clock.After(interval)
				case <-end:
					script.teardown(ctx, c)
					return
				}
			}
			select {
			case <-end:
				script.teardown(ctx, c)
				return
			default:
			}
			action, body, err := script.next(cfg.Clock.Now())
			if err != nil {
				cfg.Logger.Error("load payload", "err", err)
				return
			}
			calls.Add(1)
			start := time.Now()
			if _, err := c.Call(ctx, action, body); err != nil {
				select {
				case <-c.Done():
					return
				default:
				}
				continue
			}
			res.Latency.Record(time.Since(start))
			ok.Add(1)
		}
		script.teardown(ctx, c)
	}

	for i := range cfg.Stations {
		if i > 0 && cfg.Ramp > 0 {
			select {
			case <-cfg.Clock.After(cfg.Ramp):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		setupWG.Add(1)
		runWG.Add(1)
		go worker(i)
	}
	setupWG.Wait()
	start := time.Now()
	close(begin)
	allDone := make(chan struct{})
	go func() { runWG.Wait(); close(allDone) }()
	select {
	case <-cfg.Clock.After(cfg.Duration):
	case <-allDone:
	case <-ctx.Done():
	}
	res.Elapsed = time.Since(start)
	close(end)
	<-allDone

	res.Connected = int(connected.Load())
	res.Calls, res.OK = calls.Load(), ok.Load()
	res.Failed = res.Calls - res.OK
	if res.Elapsed > 0 {
		res.PerSecond = float64(res.OK) / res.Elapsed.Seconds()
	}
	res.P50, res.P99, res.Max = res.Latency.Quantile(0.5), res.Latency.Quantile(0.99), res.Latency.Max()
	return res, ctx.Err()
}

// newLoadScript returns the load script of a version; id is the
// connection's identity.
func newLoadScript(v ocppj.Version, action, id string, clock Clock) (loadScript, error) {
	switch v {
	case ocppj.V16:
		return newV16LoadScript(action, id, clock)
	case ocppj.V201, ocppj.V21:
		return newV2LoadScript(v, action, id, clock)
	}
	return nil, fmt.Errorf("%w: OCPP version %q", ErrConfig, v)
}

// loadCall validates and sends a request and decodes the answer strictly
// with dec, returning it as a *Resp (see asType).
func loadCall[Resp any](ctx context.Context, c *rpc.Conn, action string, req any, dec func(string, json.RawMessage) (any, error)) (*Resp, error) {
	raw, err := payload.Marshal(req)
	if err != nil {
		return nil, err
	}
	ans, err := c.Call(ctx, action, raw)
	if err != nil {
		return nil, err
	}
	v, err := dec(action, ans)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadResponse, action, err)
	}
	r, ok := asType[Resp](v)
	if !ok {
		return nil, fmt.Errorf("%w: %s: unexpected %T", ErrBadResponse, action, v)
	}
	return r, nil
}
