package cloudtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

// EnvDynsec names the variable with the path of Mosquitto's dynamic
// security plugin (/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
// on Debian); .ci/run sets it.
const EnvDynsec = "CONSTELLATION_MOSQUITTO_DYNSEC"

// Mosquitto is a private Mosquitto broker with the dynamic security
// plugin, as docs/watchtower.md sets one up: no anonymous access, and one
// administrator, the watchtower's user.
type Mosquitto struct {
	URL           string // tcp://127.0.0.1:port
	Admin         string
	AdminPassword string
	Log           string // the broker's log file
}

// StartMosquitto starts a Mosquitto for the test, stopped when it ends,
// or skips the test when EnvDynsec is not set.
func StartMosquitto(t *testing.T) *Mosquitto {
	t.Helper()
	plugin := os.Getenv(EnvDynsec)
	if plugin == "" {
		t.Skipf("%s is not set: skipping a test that needs Mosquitto with the dynamic security plugin (run with %s=/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so)", EnvDynsec, EnvDynsec)
	}
	bin, ctrl := lookPath(t, "mosquitto"), lookPath(t, "mosquitto_ctrl")
	dir := t.TempDir()
	m := &Mosquitto{Admin: "watchtower", AdminPassword: fleet.NewSecret(), Log: filepath.Join(dir, "mosquitto.log")}
	dynsec := filepath.Join(dir, "dynsec.json")
	if out, err := exec.Command(ctrl, "dynsec", "init", dynsec, m.Admin, m.AdminPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v\n%s", err, out)
	}
	addr := freePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\npersistence false\nmax_queued_messages 10000000\nlog_dest file %s\nlog_type all\n",
		addr.Port, plugin, dynsec, m.Log)
	if os.Geteuid() == 0 {
		conf += "user root\n" // else it drops to user mosquitto, which cannot read the test's files
	}
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confFile)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if log, err := os.ReadFile(m.Log); err == nil {
				t.Logf("mosquitto's log:\n%s", tailBytes(log, 8<<10))
			}
		}
	})
	m.URL = "tcp://" + addr.String()
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err == nil {
			c.Close()
			return m
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(m.Log)
			t.Fatalf("mosquitto exited: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not listen on %s", addr)
		}
	}
}

// Ctrl runs a mosquitto_ctrl dynsec command as the administrator.
func (m *Mosquitto) Ctrl(ctx context.Context, args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(m.URL[len("tcp://"):])
	out, err := exec.CommandContext(ctx, "mosquitto_ctrl", append([]string{"-h", host, "-p", port, "-u", m.Admin, "-P", m.AdminPassword, "dynsec"}, args...)...).CombinedOutput()
	return string(out), err
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s is set but %s is not installed (apt-get install mosquitto)", EnvDynsec, name)
	return ""
}

// freePort finds a loopback port no one listens on.
func freePort(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr)
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
