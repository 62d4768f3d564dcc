package leases

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
)

// A leases file as dnsmasq writes it for NetworkManager's shared mode,
// with a DHCPv6 part and a damaged line.
const sample = `1764846000 dc:a6:32:01:02:03 10.42.0.23 wallbox-pulsar 01:dc:a6:32:01:02:03
0 02:00:00:aa:bb:cc 10.42.0.7 * *
1764846000 zz:zz 10.42.0.9 broken *
duid 00:01:00:01:2a:bb:cc:dd:ee:ff:00:11:22:33
1764846000 1234 fd00::17 phone 00:01:00:01
`

func TestParse(t *testing.T) {
	leases, problems := Parse([]byte(sample))
	want := []Lease{
		{IP: netip.MustParseAddr("10.42.0.7"), MAC: "02:00:00:aa:bb:cc"},
		{IP: netip.MustParseAddr("10.42.0.23"), MAC: "dc:a6:32:01:02:03", Expires: time.Unix(1764846000, 0).UTC(),
			Hostname: "wallbox-pulsar", ClientID: "01:dc:a6:32:01:02:03"},
	}
	if len(leases) != len(want) {
		t.Fatalf("leases %+v, want %+v", leases, want)
	}
	for i := range want {
		if !reflect.DeepEqual(leases[i], want[i]) {
			t.Errorf("lease %d: %+v, want %+v", i, leases[i], want[i])
		}
	}
	if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), `line 3: MAC "zz:zz"`) {
		t.Errorf("problems %v", problems)
	}
	for line, want := range map[string]string{
		"1 2 3":                                "3 fields, want 5",
		"soon 02:00:00:aa:bb:cc 10.42.0.7 * *": `expiry "soon"`,
		"-5 02:00:00:aa:bb:cc 10.42.0.7 * *":   `expiry "-5"`,
		"5 02:00:00:aa:bb:cc 10.42.0.300 * *":  `address "10.42.0.300"`,
	} {
		if _, p := Parse([]byte(line)); len(p) != 1 || !strings.Contains(p[0].Error(), want) {
			t.Errorf("%q: problems %v, want %q", line, p, want)
		}
	}
}

func TestReadAndMatch(t *testing.T) {
	dir := t.TempDir()
	if l, p, err := Read(filepath.Join(dir, "missing.leases")); l != nil || p != nil || err != nil {
		t.Errorf("a missing file: %v %v %v", l, p, err)
	}
	path := filepath.Join(dir, "dnsmasq-wlan0.leases")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	leases, _, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got := Match(leases, map[charging.ChargerID]netip.Addr{
		"CP-1": netip.MustParseAddr("10.42.0.23"), "CP-1b": netip.MustParseAddr("10.42.0.23"), "CP-WIRED": netip.MustParseAddr("192.168.1.5"),
	})
	if got[0].Chargers != nil || !slices.Equal(got[1].Chargers, []charging.ChargerID{"CP-1", "CP-1b"}) || leases[1].Chargers != nil {
		t.Errorf("matched %+v (the input must stay as it was: %+v)", got, leases)
	}
	if err := os.WriteFile(path, make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(path); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("a huge file: %v", err)
	}
}

// FuzzParse: any file gives leases with IPv4 addresses and MACs, and
// problems naming lines; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("duid\n\n   \n0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		leases, problems := Parse(data)
		for _, l := range leases {
			if !l.IP.Is4() || l.MAC == "" {
				t.Fatalf("lease %+v", l)
			}
		}
		for _, p := range problems {
			if !strings.HasPrefix(p.Error(), "line ") && !strings.Contains(p.Error(), "token too long") {
				t.Fatalf("problem %q names no line", p)
			}
		}
	})
}
