package clock

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// TimesyncdSynchronized is the file systemd-timesyncd creates once it has
// synchronised the system clock with NTP; it is gone again at boot.
const TimesyncdSynchronized = "/run/systemd/timesync/synchronized"

// Synced reports whether the system clock has been synchronised, by the
// marker file systemd-timesyncd leaves (path; usually
// TimesyncdSynchronized). A Raspberry Pi has no real-time clock: until
// then the time is timesyncd's last saved time, behind the real one.
// Without timesyncd (its directory absent: another NTP client, or a
// development machine) the clock is taken as synchronised.
func Synced(path string) bool {
	if _, err := os.Stat(path); err == nil {
		return true
	}
	_, err := os.Stat(filepath.Dir(path))
	return errors.Is(err, fs.ErrNotExist)
}
