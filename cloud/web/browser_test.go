package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// EnvChromium names Chromium's binary for the browser test (default:
// chromium on the PATH); .ci/run installs Debian's.
const EnvChromium = "CONSTELLATION_CHROMIUM"

// chromium returns the browser to drive: EnvChromium's (which .ci/run
// sets, so CI never skips), else chromium on the PATH; with neither the
// test skips, saying how to run it.
func chromium(t *testing.T) string {
	if path := os.Getenv(EnvChromium); path != "" {
		if _, err := exec.LookPath(path); err != nil {
			t.Fatalf("%s=%s: %v", EnvChromium, path, err)
		}
		return path
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("no Chromium: skipping the browser test (apt-get install chromium, or set %s)", EnvChromium)
	}
	return path
}

// siteAppliance is a real appliance, in-process, synced to the
// watchtower as site, with its OCPP and local API addresses.
type siteAppliance struct {
	addrs app.Addrs
}

// startAppliance enrolls site and runs an appliance for it that refuses
// unknown tokens (only the cloud's list lets a card charge).
func startAppliance(t *testing.T, d *dashboard, site string) *siteAppliance {
	t.Helper()
	ctx := t.Context()
	token, _, err := d.Store.IssueToken(ctx, site, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	password, err := d.Store.Enroll(ctx, site, token)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "mqtt-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.OCPP.Addr, cfg.API.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.OCPP.UnknownChargers = "accept"
	cfg.Auth.UnknownTokens = "strict"
	cfg.Sync.Enabled, cfg.Sync.Broker, cfg.Sync.Site, cfg.Sync.PasswordFile = true, "tcp://"+d.MQTTAddr(), site, pwFile
	cfg.Sync.ReadingsBatch = config.Duration{}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan app.Addrs, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx, cfg, log, func(a app.Addrs) { ready <- a }) }()
	a := &siteAppliance{}
	select {
	case a.addrs = <-ready:
	case err := <-runErr:
		cancel()
		t.Fatalf("appliance: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("appliance: %v", err)
		}
	})
	return a
}

// tokenStatus is the appliance's cached status of a token ("" if none).
func (a *siteAppliance) tokenStatus(t *testing.T, id string) string {
	t.Helper()
	resp, err := http.Get("http://" + a.addrs.API + "/api/v1/tokens")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Tokens []struct{ ID, Status string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, tok := range list.Tokens {
		if tok.ID == id {
			return tok.Status
		}
	}
	return ""
}

// startAnswers records the id tag status of each StartTransaction answer.
type startAnswers struct {
	mu     sync.Mutex
	status []string
}

func (s *startAnswers) add(a sim.Ack) {
	if a.Action != "StartTransaction" {
		return
	}
	var resp struct {
		IDTagInfo struct{ Status string } `json:"idTagInfo"`
	}
	if json.Unmarshal(a.ResponseJSON, &resp) == nil {
		s.mu.Lock()
		s.status = append(s.status, resp.IDTagInfo.Status)
		s.mu.Unlock()
	}
}

func (s *startAnswers) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.status)
}

func (s *startAnswers) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.status) == 0 {
		return ""
	}
	return s.status[len(s.status)-1]
}

// startStation connects a one-connector 1.6 station that charges only
// when told to (a remote start), sending meter values every 200 ms.
func startStation(t *testing.T, a *siteAppliance, id string, answers *startAnswers) *sim.Station {
	t.Helper()
	st, err := sim.NewStation(sim.Options{
		ID: id, URL: sim.StationURL("ws://"+a.addrs.OCPP+"/ocpp", id), Connectors: 1,
		MeterInterval: 200 * time.Millisecond, SessionLength: time.Hour, Pause: time.Hour,
		Tags: []string{"CARD-1"}, HeartbeatInterval: time.Hour,
		RetryInterval: 200 * time.Millisecond, CallTimeout: 20 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		OnAck: answers.add, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("station %s: %v", id, err)
		}
	})
	return st
}

// TestBrowser drives the dashboard in headless Chromium against a real
// watchtower, a real appliance and a simulated charger: sign in, see
// the site online, add a card, start a session remotely, watch it live,
// stop it, find it with its energy, block the card and see the
// appliance refuse it, and a viewer refused a command. Screenshots of
// the main pages go to the test's artifact directory (go test
// -artifacts; make test keeps them under out/test-artifacts).
func TestBrowser(t *testing.T) {
	chrome := chromium(t)
	d := startDashboard(t, func(c *watchtower.Config) { c.HTTP.InsecureCookies = false; c.HTTP.LiveEvery = "200ms" })
	d.user(t, "ada", auth.Admin, "ada's password 1")
	d.user(t, "vic", auth.Viewer, "vic's password 1")
	const site, charger = "depot-1", "CP1"
	if _, err := d.Store.CreateSite(t.Context(), site, "Depot One"); err != nil {
		t.Fatal(err)
	}
	a := startAppliance(t, d, site)
	answers := &startAnswers{}
	station := startStation(t, a, charger, answers)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelTimeout()
	shots := t.ArtifactDir()
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML(css("main")))
			t.Fatalf("%s: %v\npage:\n%s", step, err, html)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tgt)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	// The stop button asks first: the test says yes.
	sayYes := chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("window.confirm = () => true; true")(ctx, tgt)
		return err
	})
	signIn := func(name, password string) {
		run("sign in as "+name,
			chromedp.Navigate(d.base+"/"),
			chromedp.WaitVisible(css("#login")),
			chromedp.SendKeys(css("input[name=name]"), name),
			chromedp.SendKeys(css("input[name=password]"), password),
			chromedp.Click(css("#login")),
			chromedp.WaitVisible(css("#sites")))
	}
	remoteStart := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(css(`details[data-command="remote-start"]`)),
		chromedp.Click(css(`details[data-command="remote-start"] summary`)),
		chromedp.SendKeys(css(`details[data-command="remote-start"] input[name=idTag]`), "CARD-1"),
		chromedp.SendKeys(css(`details[data-command="remote-start"] input[name=connectorId]`), "1"),
		chromedp.Submit(css(`details[data-command="remote-start"] form`)),
		chromedp.WaitVisible(css("p.flash.ok")),
	}

	// Signed in, the overview shows the site online, live.
	signIn("ada", "ada's password 1")
	run("site online", chromedp.WaitVisible(css(`#sites tr[data-site="depot-1"] .s-online`)), shot("fleet-overview"))

	// A card for every site reaches the appliance's cache.
	run("add a card",
		chromedp.Navigate(d.base+"/idtokens"),
		chromedp.Click(css("#add-token summary")),
		chromedp.SendKeys(css("#add-token input[name=idTag]"), "CARD-1"),
		chromedp.SendKeys(css("#add-token input[name=owner]"), "Fleet car 7"),
		chromedp.Submit(css("#add-token form")),
		chromedp.WaitVisible(css(`#idtokens tr[data-idtag="CARD-1"]`)))
	waitUntil(t, "the appliance has CARD-1 accepted", func() bool { return a.tokenStatus(t, "CARD-1") == "Accepted" })

	// Start a session remotely and watch it live: connector charging,
	// energy counting up.
	run("start a session", append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(d.base + "/sites/" + site),
		chromedp.WaitVisible(css(`#chargers tr[data-charger="CP1"] .s-online`)),
		shot("site"),
		chromedp.Click(css(`#chargers a[href$="/chargers/CP1"]`)),
	}, append(remoteStart,
		chromedp.WaitVisible(css("#open-sessions tr[data-session]")),
		chromedp.WaitVisible(css(`#connectors tr[data-connector="1"] .s-charging`)))...)...)
	if got := answers.last(); got != "Accepted" {
		t.Fatalf("StartTransaction for CARD-1 answered %q, want Accepted", got)
	}
	attr, err := chromedp.Run(bctx, chromedp.AttributeValue(css("#open-sessions tr[data-session]"), "data-session"))
	if err != nil {
		t.Fatal(err)
	}
	sessionID := attr.Value
	// The page is not reloaded: each value is the live stream's.
	energy := func(sel string) float64 {
		var kwh float64
		if _, err := fmt.Sscanf(text(sel), "%f kWh", &kwh); err != nil {
			return 0
		}
		return kwh
	}
	var first float64
	waitUntil(t, "the open session's energy, live", func() bool {
		first = energy("#open-sessions tr[data-session] td.energy")
		return first > 0
	}, func() string { return text("#open-sessions") })
	waitUntil(t, "the open session's energy to count up, live", func() bool { return energy("#open-sessions tr[data-session] td.energy") > first })
	run("charger page", shot("charger-charging"))

	// Stop it from the dashboard: the page shows it stopped.
	run("stop the session",
		sayYes,
		chromedp.Click(css("#open-sessions button.stop")),
		chromedp.WaitVisible(css("p.flash.ok")),
		chromedp.WaitNotPresent(css("#open-sessions")),
		chromedp.WaitVisible(css("#commands tr:first-child .s-accepted")),
		shot("charger-stopped"))

	// The sessions list has it, stopped, with its energy.
	row := fmt.Sprintf(`tr[data-session="%s"]`, sessionID)
	run("sessions list",
		chromedp.Navigate(d.base+"/sessions?site="+site),
		chromedp.WaitVisible(css(row)),
		shot("sessions"))
	if line, kwh := text(row), energy(row+" td.energy"); strings.Contains(line, "open") || kwh <= first {
		t.Errorf("session %s listed as %q: want it stopped, with more than the %.3f kWh seen while it charged", sessionID, line, first)
	}

	// Block the card: the appliance's cache has it blocked, and a
	// session started with it is refused.
	run("block the card",
		chromedp.Navigate(d.base+"/idtokens"),
		chromedp.Click(css(`#idtokens tr[data-idtag="CARD-1"] button.block`)),
		chromedp.WaitVisible(css(`#idtokens tr[data-idtag="CARD-1"] .s-blocked`)),
		shot("idtokens"))
	waitUntil(t, "the appliance has CARD-1 blocked", func() bool { return a.tokenStatus(t, "CARD-1") == "Blocked" })
	run("start with the blocked card", append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(d.base + "/sites/" + site + "/chargers/" + charger)}, remoteStart...)...)
	waitUntil(t, "the appliance to refuse CARD-1", func() bool { return answers.last() == "Blocked" })

	// The desired-state editor: a site power limit reaches the charger
	// (the only one: all of it), and the appliance's report shows it in
	// force.
	run("set a site power limit",
		chromedp.Navigate(d.base+"/sites/"+site+"/config"),
		chromedp.SendKeys(css("#config-form input[name=site_power_limit_kw]"), "11"),
		chromedp.Submit(css("#config-form")),
		chromedp.WaitVisible(css("p.flash.ok")))
	waitUntil(t, "the charger to be limited to 11 kW", func() bool { w, ok := station.StationLimitW(); return ok && w == 11000 })
	run("configuration in force", chromedp.WaitVisible(css("#settings .s-online")), shot("site-configuration"))

	// The other pages render.
	run("users", chromedp.Navigate(d.base+"/users"), chromedp.WaitVisible(css("#users")), shot("users"))
	run("audit", chromedp.Navigate(d.base+"/audit"), chromedp.WaitVisible(css("#audit")), shot("audit-log"))
	if log := text("#audit"); !strings.Contains(log, "command.create") || !strings.Contains(log, "user:ada") {
		t.Errorf("audit log lacks ada's commands:\n%s", log)
	}

	// On a phone: the pages fit the screen's width (wide tables scroll
	// inside their box).
	for _, pg := range []struct{ name, path, ready string }{
		{"phone-fleet-overview", "/", "#sites"},
		{"phone-charger", "/sites/" + site + "/chargers/" + charger, "#connectors"},
		{"phone-sessions", "/sessions", ".sessions"},
	} {
		run(pg.name, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(d.base+pg.path),
			chromedp.WaitVisible(css(pg.ready)), shot(pg.name))
		wide, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("%s: wider than a phone's screen (%v)", pg.path, err)
		}
	}
	run("desktop again", chromedp.ResetViewport())

	// A viewer sees no command forms, and a command form posted from
	// its session anyway (with its valid CSRF token) is refused.
	run("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#login")))
	signIn("vic", "vic's password 1")
	run("viewer's charger page", chromedp.Navigate(d.base+"/sites/"+site+"/chargers/"+charger), chromedp.WaitVisible(css("#connectors")))
	forms, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("details[data-command]").length`))
	if err != nil || forms != 0 {
		t.Errorf("a viewer is shown %d command forms (%v)", forms, err)
	}
	before := answers.count()
	run("viewer posts a command",
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => {
				const f = document.createElement("form");
				f.method = "post"; f.action = location.pathname + "/commands";
				for (const [k, v] of [["csrf", document.querySelector("input[name=csrf]").value], ["command", "remote-start"], ["idTag", "CARD-2"], ["connectorId", "1"]]) {
					const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
				}
				document.body.appendChild(f); f.submit(); return true;
			})()`)(ctx, tgt)
			return err
		}),
		chromedp.WaitVisible(css("p.flash.error")),
		shot("viewer-refused"))
	if msg := text("p.flash.error"); !strings.Contains(msg, "operator role") {
		t.Errorf("viewer's command: flash %q, want the operator role named", msg)
	}
	if n, err := d.Store.Commands(t.Context(), fleet.CommandFilter{Site: site}); err != nil || len(n) != 3 {
		t.Errorf("commands stored: %d (%v), want ada's 3 only", len(n), err)
	}
	if answers.count() != before {
		t.Errorf("the viewer's command reached the charger")
	}
}

// css is a CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitUntil polls cond until it holds, failing the test after a minute
// with what state tells, if given.
func waitUntil(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			for _, s := range state {
				t.Logf("state: %s", s())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
