//go:build imagetest

package imagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	imagePath = flag.String("image", "", "the raw image built by make image (out/image/constellation.img)")
	chargesim = flag.String("chargesim", "", "the chargesim binary (bin/chargesim)")
	report    = flag.String("report", "", "append the measurements to this file")
)

// The installer's settings for the test: every kind of value, secrets
// included, so that the test can see them applied and removed.
const (
	siteName     = "Imagetest Depot"
	apSSID       = "Imagetest-Chargers"
	wifiPassword = "imagetest-uplink-secret"
	timeZone     = "Europe/Madrid"
	chargerID    = "imagetest-0001"
	chargerPass  = "imagetest-charger-secret"
	tag          = "IMAGETEST1"
)

func settings(pubKey string) string {
	return fmt.Sprintf(`site_name = %q
time_zone = %q
ssh_authorized_keys = [%q]

[uplink.wifi]
ssid = "Imagetest office"
password = %q

[access_point]
ssid = %q

[display]
language = "es"

[[chargers]]
id = %q
password = %q
`, siteName, timeZone, strings.TrimSpace(pubKey), wifiPassword, apSSID, chargerID, chargerPass)
}

// TestImage boots the image as an installer's first boot, checks it from
// the host, runs a charging session against it, then cuts the power in
// the middle of another session and checks that nothing acknowledged
// was lost.
func TestImage(t *testing.T) {
	if *imagePath == "" || *chargesim == "" {
		t.Fatal("-image and -chargesim are required: run make image-test")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "imagetest", "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}

	disk := NewDisk(t, *imagePath, dir, 1<<30)
	disk.WriteBoot(t, "constellation.toml", settings(string(pub)))
	vm := Boot(t, disk, dir, key)
	vm.WaitSSH(t, 10*time.Minute)
	sshUp := time.Since(vm.Started)
	firstReady := checkBooted(t, vm)

	t.Run("first boot applied", func(t *testing.T) {
		cfg := vm.MustSSH(t, "sudo cat /etc/constellation/appliance.toml")
		for _, want := range []string{siteName, apSSID, `language = "es"`, `driver = "networkmanager"`} {
			if !strings.Contains(cfg, want) {
				t.Errorf("appliance.toml lacks %q:\n%s", want, cfg)
			}
		}
		if strings.Contains(cfg, chargerPass) || !strings.Contains(cfg, "password_hash") {
			t.Errorf("appliance.toml should hold the charger password's hash only:\n%s", cfg)
		}
		boot := vm.MustSSH(t, "sudo cat /boot/firmware/constellation.toml")
		if strings.Contains(boot, wifiPassword) || strings.Contains(boot, chargerPass) || !strings.Contains(boot, "# Applied by constellation-appliance first-boot") {
			t.Errorf("the boot partition's settings still hold the secrets, or were not marked applied:\n%s", boot)
		}
		if pw := vm.MustSSH(t, "sudo cat /var/lib/constellation/ap-password"); len(pw) != 16 {
			t.Errorf("generated access point password has %d characters, want 16", len(pw))
		}
		if zone := vm.MustSSH(t, "readlink /etc/localtime"); !strings.HasSuffix(zone, "/"+timeZone) {
			t.Errorf("/etc/localtime -> %s, want the zone %s", zone, timeZone)
		}
		if out := vm.MustSSH(t, "sudo systemctl show -p Result --value constellation-firstboot"); out != "success" {
			t.Errorf("constellation-firstboot: %s", out)
		}
	})

	t.Run("per-device identity", func(t *testing.T) {
		if id := vm.MustSSH(t, "cat /etc/machine-id"); len(id) != 32 {
			t.Errorf("machine-id %q", id)
		}
		vm.MustSSH(t, "test -s /etc/ssh/ssh_host_ed25519_key.pub")
		if out, err := vm.SSH(context.Background(), "sudo grep -E '^(root|admin|constellation):[^!*]' /etc/shadow"); err == nil {
			t.Errorf("an account has a usable password:\n%s", out)
		}
	})

	t.Run("data partition grown", func(t *testing.T) {
		size, err := strconv.Atoi(strings.TrimSpace(lastLine(vm.MustSSH(t, "df -B1M --output=size /data"))))
		if err != nil || size < 900 {
			t.Errorf("data partition is %d MiB (%v), want it grown by the card's extra GiB", size, err)
		}
		if src := vm.MustSSH(t, "findmnt -no SOURCE /var/lib/constellation"); !strings.Contains(src, "/constellation") {
			t.Errorf("/var/lib/constellation is %q, want the data partition's bind mount", src)
		}
	})

	// The test site's card, through the local API (the charger came with
	// the settings file).
	api := "http://" + vm.Forward(t, "127.0.0.1:8000")
	mustDo(t, http.MethodPut, api+"/api/v1/tokens/"+tag, `{"status":"Accepted"}`, nil)

	t.Run("charging session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, *chargesim, simArgs(vm, "20s")...).CombinedOutput()
		if err != nil {
			t.Fatalf("chargesim: %v\n%s", err, out)
		}
		txs := transactions(t, api)
		if len(txs) != 1 || txs[0].MeterStopWh == nil || *txs[0].MeterStopWh <= txs[0].MeterStartWh {
			t.Fatalf("want one stopped session with energy, got %+v", txs)
		}
	})

	// The power cut: kill the VM in the middle of a session, boot again.
	var before txDetail
	outer := t // the VM booted again outlives the subtest
	t.Run("power cut", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sim := exec.CommandContext(ctx, *chargesim, simArgs(vm, "30m")...)
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = sim.Wait() }()
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if txs := transactions(t, api); len(txs) == 2 && txs[0].MeterStopWh == nil {
				mustDo(t, http.MethodGet, fmt.Sprintf("%s/api/v1/transactions/%d", api, txs[0].ID), "", &before)
				if len(before.Readings) >= 3 {
					break
				}
			}
			time.Sleep(time.Second)
		}
		if len(before.Readings) < 3 {
			t.Fatalf("the session did not get going: %+v", before)
		}
		vm.Kill() // everything the appliance acknowledged up to here is in before, or newer
		t.Logf("power cut during session %d with %d readings acknowledged", before.Transaction.ID, len(before.Readings))

		vm = Boot(outer, disk, dir, key)
		vm.WaitSSH(t, 10*time.Minute)
		api = "http://" + vm.Forward(outer, "127.0.0.1:8000")
		var after txDetail
		mustDo(t, http.MethodGet, fmt.Sprintf("%s/api/v1/transactions/%d", api, before.Transaction.ID), "", &after)
		if after.Transaction.ID != before.Transaction.ID || after.Transaction.IDTag != tag {
			t.Errorf("after the power cut the session is %+v, want %+v", after.Transaction, before.Transaction)
		}
		if len(after.Readings) < len(before.Readings) {
			t.Errorf("after the power cut the session has %d readings, %d were acknowledged before", len(after.Readings), len(before.Readings))
		}
		for i := range before.Readings {
			if i < len(after.Readings) && after.Readings[i] != before.Readings[i] {
				t.Errorf("reading %d was %+v before the power cut, %+v after", i, before.Readings[i], after.Readings[i])
			}
		}
		if n := len(transactions(t, api)); n != 2 {
			t.Errorf("%d sessions after the power cut, want 2", n)
		}
	})
	warmReady := checkBooted(t, vm)

	if *report != "" {
		f, err := os.OpenFile(*report, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%s image-test: first boot: SSH login after %.1f s (host), appliance READY %.1f s after kernel start; boot after the power cut: READY %.1f s after kernel start\n",
			time.Now().UTC().Format(time.RFC3339), sshUp.Seconds(), firstReady.Seconds(), warmReady.Seconds())
	}
	t.Logf("first boot: SSH after %s; READY %s after kernel start; after the power cut: READY %s", sshUp.Round(time.Second), firstReady.Round(100*time.Millisecond), warmReady.Round(100*time.Millisecond))
}

// checkBooted checks systemd reached multi-user with no failed units
// and the appliance is READY; it returns when READY came, after the
// kernel started.
func checkBooted(t *testing.T, vm *VM) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	state, _ := vm.SSH(ctx, "systemctl is-system-running --wait")
	if state != "running" {
		failed, _ := vm.SSH(ctx, "systemctl --failed --no-legend --plain; journalctl -b -p err --no-pager | tail -40")
		t.Errorf("system state %q, want running; failed units and errors:\n%s", state, failed)
	}
	return waitActive(t, vm)
}

// waitActive waits for the appliance's READY (a Type=notify unit is
// active only after it) and returns when it came, after the kernel started.
func waitActive(t *testing.T, vm *VM) time.Duration {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		props := vm.MustSSH(t, "systemctl show -p ActiveState -p SubState -p ActiveEnterTimestampMonotonic constellation-appliance")
		if strings.Contains(props, "ActiveState=active") && strings.Contains(props, "SubState=running") {
			for _, l := range strings.Split(props, "\n") {
				if v, ok := strings.CutPrefix(l, "ActiveEnterTimestampMonotonic="); ok {
					us, _ := strconv.ParseInt(v, 10, 64)
					return time.Duration(us) * time.Microsecond
				}
			}
		}
		if time.Now().After(deadline) {
			logs, _ := vm.SSH(context.Background(), "sudo journalctl -b -u constellation-appliance --no-pager | tail -40")
			t.Fatalf("the appliance is not READY:\n%s\n%s", props, logs)
		}
		time.Sleep(2 * time.Second)
	}
}

func simArgs(vm *VM, session string) []string {
	return []string{"--url", fmt.Sprintf("ws://127.0.0.1:%d/ocpp", vm.OCPPPort), "--id-prefix", "imagetest-", "--password", chargerPass,
		"--tags", tag, "--sessions", "1", "--session", session, "--meter-interval", "2s", "--pause", "-1s", "--progress", "0"}
}

type transaction struct {
	ID           int64  `json:"id"`
	ChargerID    string `json:"chargerId"`
	IDTag        string `json:"idTag"`
	MeterStartWh int64  `json:"meterStartWh"`
	MeterStopWh  *int64 `json:"meterStopWh"`
}

type reading struct {
	Timestamp string `json:"timestamp"`
	Value     string `json:"value"`
	Measurand string `json:"measurand"`
}

type txDetail struct {
	Transaction transaction `json:"transaction"`
	Readings    []reading   `json:"readings"`
}

func transactions(t *testing.T, api string) []transaction {
	t.Helper()
	var page struct {
		Transactions []transaction `json:"transactions"`
	}
	mustDo(t, http.MethodGet, api+"/api/v1/transactions?charger="+chargerID, "", &page)
	return page.Transactions
}

func mustDo(t *testing.T, method, url, body string, into any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
