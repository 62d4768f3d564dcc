package cloudsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/testpki"
	"github.com/constellation-ev/constellation/appliance/store"
)

// New refuses bad options, naming the setting, and reads the password
// and CA files.
func TestNewChecksOptions(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	must(t, err)
	defer db.Close()
	pw := filepath.Join(dir, "pw")
	must(t, os.WriteFile(pw, []byte("secret\r\n"), 0o600))
	notPEM := filepath.Join(dir, "x.pem")
	must(t, os.WriteFile(notPEM, []byte("no certificate"), 0o600))
	ca := testpki.New(t).WriteCA(t, dir)

	good := Options{Broker: "tls://broker.example:8883", Site: "depot-7", PasswordFile: pw, CAFile: ca}
	c, err := New(ctx, db, good)
	must(t, err)
	if string(c.password) != "secret" || c.username != "depot-7" || c.tls == nil || c.tls.RootCAs == nil || c.tls.ServerName != "broker.example" {
		t.Fatalf("client %+v", c)
	}
	for _, tt := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"bad site", func(o *Options) { o.Site = "a/b" }, "site id"},
		{"scheme", func(o *Options) { o.Broker = "http://broker:1883" }, "broker:"},
		{"no port", func(o *Options) { o.Broker = "tcp://broker" }, "broker:"},
		{"credentials in the URL", func(o *Options) { o.Broker = "tcp://u:p@broker:1883" }, "broker: credentials"},
		{"ca without tls", func(o *Options) { o.Broker = "tcp://broker:1883" }, "ca_file: given for a broker without TLS"},
		{"no password file", func(o *Options) { o.PasswordFile = filepath.Join(dir, "none") }, "password_file"},
		{"not a CA", func(o *Options) { o.CAFile = notPEM }, "ca_file: no certificate"},
		{"reconnect waits", func(o *Options) { o.ReconnectMin, o.ReconnectMax = time.Second, time.Second }, "reconnect waits"},
		{"negative limit", func(o *Options) { o.MaxEntries = -1 }, "negative"},
	} {
		o := good
		tt.mutate(&o)
		if _, err := New(ctx, db, o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		// The configuration's check says the same about the broker.
		if strings.HasPrefix(tt.want, "broker") || strings.HasPrefix(tt.want, "ca_file: given") {
			if err := CheckBroker(o.Broker, o.CAFile); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: CheckBroker: %v, want %q", tt.name, err, tt.want)
			}
		}
	}
}
