package screen

import (
	"errors"
	"fmt"
	"time"
)

// Config is the screen manager's part of the appliance configuration
// ([lcd.screen] in the TOML file).
type Config struct {
	// Language is "en" or "es".
	Language string `toml:"language"`
	// EventTime is how long an event (card, plug in, charging started or
	// stopped) stays on the display.
	EventTime time.Duration `toml:"event_time"`
	// FaultTime is how long a fault stays on the display.
	FaultTime time.Duration `toml:"fault_time"`
	// PlugInTime is how long "plug in the cable" waits for the plug.
	PlugInTime time.Duration `toml:"plug_in_time"`
	// RotateEvery is how long each idle screen shows.
	RotateEvery time.Duration `toml:"rotate_every"`
	// FollowCharging is how long the live charging screen follows a
	// session after it starts.
	FollowCharging time.Duration `toml:"follow_charging"`
}

// Defaults returns the default language (English) and durations.
func Defaults() Config {
	return Config{
		Language:       "en",
		EventTime:      5 * time.Second,
		FaultTime:      30 * time.Second,
		PlugInTime:     30 * time.Second,
		RotateEvery:    4 * time.Second,
		FollowCharging: time.Minute,
	}
}

// Validate reports every setting that is out of range, by its TOML key.
func (c Config) Validate() error {
	var errs []error
	if _, ok := languages[c.Language]; !ok {
		errs = append(errs, fmt.Errorf("language: %q is not en or es", c.Language))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"event_time", c.EventTime}, {"fault_time", c.FaultTime}, {"plug_in_time", c.PlugInTime},
		{"rotate_every", c.RotateEvery}, {"follow_charging", c.FollowCharging},
	} {
		// Shorter than a second cannot be read; longer than an hour is a typo.
		if d.v < time.Second || d.v > time.Hour {
			errs = append(errs, fmt.Errorf("%s: %v is not between 1s and 1h", d.key, d.v))
		}
	}
	return errors.Join(errs...)
}
