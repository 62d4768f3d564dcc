package clock

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSynced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "timesync")
	marker := filepath.Join(dir, "synchronized")
	if !Synced(marker) {
		t.Error("no timesyncd (no directory): want synchronised")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if Synced(marker) {
		t.Error("timesyncd running, not synchronised yet: want false")
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !Synced(marker) {
		t.Error("marker present: want synchronised")
	}
}
