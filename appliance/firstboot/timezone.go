package firstboot

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// zoneinfo is where Debian's tzdata keeps the zones, as /etc/localtime
// links to them.
const zoneinfo = "/usr/share/zoneinfo"

// stageTimeZone stages root's /etc/localtime as a link to zone's file and
// /etc/timezone naming it, as timedatectl set-timezone would (systemd's
// timedated is not running this early in boot). The zone must be a
// compiled zone file of root's tzdata.
func stageTimeZone(tx *transaction, root, zone string) error {
	if !filepath.IsLocal(zone) {
		return fmt.Errorf("firstboot: time_zone: %q is not a zone name", zone)
	}
	target := path.Join(zoneinfo, zone)
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(target)))
	if err != nil {
		return fmt.Errorf("firstboot: time_zone: %q is not installed: %w", zone, err)
	}
	if !bytes.HasPrefix(data, []byte("TZif")) {
		return fmt.Errorf("firstboot: time_zone: %s is not a compiled zone file", target)
	}
	etc := filepath.Join(root, "etc")
	if err := tx.stageSymlink(filepath.Join(etc, "localtime"), target); err != nil {
		return err
	}
	return tx.stage(filepath.Join(etc, "timezone"), []byte(zone+"\n"), 0o644, nil)
}
