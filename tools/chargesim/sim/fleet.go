package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config configures a fleet run.
type Config struct {
	// URL is the CSMS's base websocket URL; each station's id is appended.
	URL string
	// Stations is how many stations run (default 1).
	Stations int
	// IDPrefix names the stations IDPrefix0001, IDPrefix0002, ... (default "sim-").
	IDPrefix string
	// Station is the template for every station; ID, URL, Password, Stats
	// and Logger are filled in per station.
	Station Options
	// Password returns a station's Basic auth password ("" for none).
	Password func(id string) string
	// Ramp is the wait between station starts.
	Ramp time.Duration
	// Progress is the interval of progress lines written to Out (0: none).
	Progress time.Duration
	// Out receives progress lines and the summary (nil: discarded).
	Out    io.Writer
	Logger *slog.Logger
}

// Summary is the outcome of a run.
type Summary struct {
	Snapshot
	Elapsed time.Duration
}

// StationID returns the id of station i (from 1) of a fleet.
func StationID(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i) }

// Run runs a fleet of stations until ctx ends or, with a session count,
// until every station has finished, then writes a summary to cfg.Out.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Stations <= 0 {
		cfg.Stations = 1
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "sim-"
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	clock := cfg.Station.Clock
	if clock == nil {
		clock = RealClock{}
	}
	stats := cfg.Station.Stats
	if stats == nil {
		stats = &Stats{}
	}
	stations := make([]*Station, 0, cfg.Stations)
	for i := 1; i <= cfg.Stations; i++ {
		o := cfg.Station
		o.ID = StationID(cfg.IDPrefix, i)
		o.URL = StationURL(cfg.URL, o.ID)
		o.Stats = stats
		o.Logger = cfg.Logger
		if cfg.Password != nil {
			o.Password = cfg.Password(o.ID)
		}
		st, err := NewStation(o)
		if err != nil {
			return Summary{}, err
		}
		stations = append(stations, st)
	}

	start := time.Now()
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		if cfg.Progress <= 0 {
			return
		}
		for {
			select {
			case <-clock.After(cfg.Progress):
				fmt.Fprintf(cfg.Out, "%6.0fs %s\n", time.Since(start).Seconds(), stats.Snapshot())
			case <-stopProgress:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make([]error, len(stations))
ramp:
	for i, st := range stations {
		if i > 0 && cfg.Ramp > 0 {
			select {
			case <-clock.After(cfg.Ramp):
			case <-ctx.Done():
				break ramp
			}
		}
		wg.Go(func() { errs[i] = st.Run(ctx) })
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone
	sum := Summary{Snapshot: stats.Snapshot(), Elapsed: time.Since(start)}
	fmt.Fprintf(cfg.Out, "summary: %d stations, %s, elapsed %s\n", len(stations), sum.Snapshot, sum.Elapsed.Round(time.Millisecond))
	return sum, errors.Join(errs...)
}
