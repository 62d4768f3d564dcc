package nmfake

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// busConfig is a dbus-daemon configuration for one test: anyone may own
// any name and send anything, as root would on the system bus.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
</busconfig>
`

// Bus is a private dbus-daemon started for one test.
type Bus struct {
	// Address is the bus address, as DBUS_SYSTEM_BUS_ADDRESS takes it.
	Address string

	cmd  *exec.Cmd
	dir  string
	once sync.Once
}

// StartBus starts a private dbus-daemon and points the process's system
// bus at it: it sets DBUS_SYSTEM_BUS_ADDRESS, which godbus's SystemBus
// (and so gonetworkmanager, which has no way to take a connection) reads
// when it connects. The daemon stops when the test ends. A missing
// dbus-daemon fails the test: CI installs it (package dbus).
func StartBus(tb testing.TB) *Bus {
	tb.Helper()
	exe, err := exec.LookPath("dbus-daemon")
	if err != nil {
		tb.Fatalf("nmfake: dbus-daemon not found (install the dbus package): %v", err)
	}
	// A short directory of its own: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "nmfake")
	if err != nil {
		tb.Fatalf("nmfake: %v", err)
	}
	b := &Bus{dir: dir}
	tb.Cleanup(b.Stop)
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, busConfig, filepath.Join(dir, "bus")), 0o600); err != nil {
		tb.Fatalf("nmfake: %v", err)
	}
	b.cmd = exec.Command(exe, "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	b.cmd.Stderr = os.Stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("nmfake: %v", err)
	}
	if err := b.cmd.Start(); err != nil {
		tb.Fatalf("nmfake: start dbus-daemon: %v", err)
	}
	// The daemon prints its address once it listens.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("nmfake: dbus-daemon printed no address: %v", err)
	}
	b.Address = strings.TrimSpace(line)
	tb.Setenv("DBUS_SYSTEM_BUS_ADDRESS", b.Address)
	return b
}

// Stop stops the daemon: the whole system bus goes away. It is safe to
// call more than once.
func (b *Bus) Stop() {
	b.once.Do(func() {
		if b.cmd != nil && b.cmd.Process != nil {
			_ = b.cmd.Process.Kill()
			_ = b.cmd.Wait()
		}
		_ = os.RemoveAll(b.dir)
	})
}
