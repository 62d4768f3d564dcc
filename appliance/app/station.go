package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firstboot"
	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/lcd"
	"github.com/constellation-ev/constellation/appliance/rfid"
	"github.com/constellation-ev/constellation/appliance/screen"
	"github.com/constellation-ev/constellation/appliance/station"
)

// stationParts are the station's reader, display and tap-to-charge, as
// configured. Charging never depends on them: missing or failing
// hardware is logged, reported and retried by the parts themselves.
type stationParts struct {
	reader  *rfid.Reader // nil: no reader
	simCard *rfid.Sim    // the simulated reader, tapped through the API
	display *lcd.Resilient
	lines   *lcd.Sim // what the display shows, when it is simulated or absent
	screen  *screen.Manager
	station *station.Station
	noLCD   bool
}

var _ api.Station = (*stationParts)(nil)

// newStationParts builds the station's parts; sync and net may be nil.
func newStationParts(cfg config.Config, domain station.Domain, sync *cloudsync.Client, net *networkControl, clockSync *clock.Sync, log *slog.Logger) (*stationParts, error) {
	p := &stationParts{noLCD: cfg.LCD.Driver == lcd.DriverNone}
	dev, err := rfid.Open(cfg.RFID, nil) // nil: the wall clock
	if err != nil {
		return nil, err
	}
	if dev != nil {
		opts := cfg.RFID.ReaderOptions()
		opts.Logger = log.With("area", "rfid")
		p.reader = rfid.NewReader(dev, opts)
		p.simCard, _ = dev.(*rfid.Sim)
	}

	var display screen.Display
	switch cfg.LCD.Driver {
	case lcd.DriverSim, lcd.DriverNone:
		// Without a display the screens are still composed, for the API.
		simLog := log.With("area", "lcd")
		if p.noLCD {
			simLog = slog.New(slog.DiscardHandler)
		}
		if p.lines, err = lcd.NewSim(cfg.LCD.Columns, cfg.LCD.Rows, simLog); err != nil {
			return nil, err
		}
		display = p.lines
	default:
		if p.display, err = lcd.NewPi(cfg.LCD, lcd.ResilientOptions{Logger: log.With("area", "lcd")}); err != nil {
			return nil, err
		}
		display = p.display
	}
	if p.screen, err = screen.New(display, cfg.Screen, screen.Options{Logger: log.With("area", "screen")}); err != nil {
		return nil, err
	}
	cloud := func() screen.CloudLink { return screen.CloudDisabled }
	if sync != nil {
		cloud = func() screen.CloudLink {
			if st, err := sync.Status(); err == nil && st.Connected {
				return screen.CloudConnected
			}
			return screen.CloudOffline
		}
	}
	p.station, err = station.New(station.Options{Domain: domain, Screen: p.screen, SiteName: cfg.Station.SiteName,
		Network: net.forDisplay(), WiFiPassword: generatedAPPassword(cfg, log), SetupPage: setupPageURL(cfg), Cloud: cloud,
		ClockSynced: clockSync.Synced, PlugWait: cfg.Screen.PlugInTime, Logger: log.With("area", "station")})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// run starts the parts on wg until ctx ends; commands go through exec.
func (p *stationParts) run(ctx context.Context, wg *sync.WaitGroup, exec station.Commander, log *slog.Logger) {
	var taps <-chan rfid.Event // nil without a reader: no taps
	if p.reader != nil {
		taps = p.reader.Events()
		wg.Go(func() { logEnd(log, "rfid reader", p.reader.Run(ctx)) })
	}
	if p.display != nil {
		wg.Go(func() { logEnd(log, "display", p.display.Run(ctx)) })
	}
	wg.Go(func() { logEnd(log, "screen", p.screen.Run(ctx)) })
	wg.Go(func() { logEnd(log, "station", p.station.Run(ctx, taps, exec)) })
}

func logEnd(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Error(what+" stopped", "err", err)
	}
}

// StationStatus reports the reader, the display and what it shows.
func (p *stationParts) StationStatus() api.StationStatus {
	st := api.StationStatus{Lines: p.screen.Lines(), SimulatedReader: p.simCard != nil}
	if p.reader != nil {
		rs := p.reader.Status()
		st.Reader = &rs
	}
	switch {
	case p.display != nil:
		ds := p.display.Status()
		st.Display = &ds
	case !p.noLCD:
		ds := p.lines.Status()
		st.Display = &ds
	}
	return st
}

// TapCard taps a card on the simulated reader.
func (p *stationParts) TapCard(uid []byte) error {
	if p.simCard == nil {
		return api.ErrNoSimulatedReader
	}
	if err := p.simCard.Tap(uid); err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	return nil
}

// generatedAPPassword is the access point's password if first boot
// generated it (firstboot.APPasswordName in the data directory holds it)
// and the configuration still uses it; "" otherwise.
func generatedAPPassword(cfg config.Config, log *slog.Logger) string {
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, firstboot.APPasswordName))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("generated access point password unreadable: not shown", "err", err)
		}
		return ""
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" || pw != string(cfg.Network.AP.Password) {
		return ""
	}
	return pw
}
