package watchtower_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/syncproto"
)

// A site publishing past its limit has its messages refused with
// "message rate too high" (its appliance sends them again later), the
// flood is logged once, and another site's messages go through.
func TestFloodFromOneSite(t *testing.T) {
	const burst = 20
	tw := startTower(t, func(cfg *watchtower.Config) {
		cfg.Limits.SiteMessagesPerSecond, cfg.Limits.SiteBurst = 1, burst
	})
	pwA, pwB := tw.enroll(t, "site-a"), tw.enroll(t, "site-b")
	a, _ := mqttClient(t, tw, syncproto.ClientID("site-a"), "site-a", pwA)
	b, _ := mqttClient(t, tw, syncproto.ClientID("site-b"), "site-b", pwB)
	event := func(site string, i int) (string, []byte) {
		return encode(t, site, &syncproto.Event{Header: syncproto.Header{Version: syncproto.Version, Site: site,
			Key: fmt.Sprintf("flood-%d", i), Time: t0}, Event: "boot", At: t0})
	}
	var (
		wg    sync.WaitGroup
		codes = map[byte]int{}
		mu    sync.Mutex
	)
	for i := range 200 {
		wg.Go(func() {
			topic, payload := event("site-a", i)
			code := cloudtest.PublishCode(t, a, topic, payload)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	const rateTooHigh = 0x96
	// The limiter runs on the test's clock, which does not move: the
	// burst is all a site gets.
	if codes[0] != burst || codes[rateTooHigh] != 200-burst {
		t.Fatalf("PUBACK reason codes %v: want %d accepted, the rest %#x", codes, burst, rateTooHigh)
	}
	if n, err := tw.Store.EventCount(ctx, "site-a"); err != nil || n != burst {
		t.Errorf("site a has %d events stored (%v), want %d", n, err, burst)
	}
	for i := range 5 {
		topic, payload := event("site-b", i)
		if code := cloudtest.PublishCode(t, b, topic, payload); code != 0 {
			t.Errorf("site b's message %d during site a's flood: %#x", i, code)
		}
	}
	if n := strings.Count(tw.logs.String(), "publishes faster than its limit"); n != 1 {
		t.Errorf("the flood logged %d times, want once", n)
	}
	// The clock moves: the site gets more.
	tw.clock.Advance(10 * time.Second)
	topic, payload := event("site-a", 1000)
	if code := cloudtest.PublishCode(t, a, topic, payload); code != 0 {
		t.Errorf("site a after 10 s: %#x", code)
	}
}

// Enrollment attempts and refused operator requests from one address are
// bounded: past the limit they are answered 429 with Retry-After, before
// any token is checked.
func TestGuessingIsSlowedDown(t *testing.T) {
	tw := startTower(t, func(cfg *watchtower.Config) { cfg.Limits.AuthPerMinute = 5 })
	if code := tw.call(t, true, "POST", "/api/v1/sites", map[string]string{"id": "site-a"}, nil); code != http.StatusCreated {
		t.Fatalf("create site: %d", code)
	}
	codes := map[int]int{}
	for range 8 {
		codes[tw.call(t, false, "POST", "/api/v1/enroll", map[string]string{"site": "site-a", "token": fleet.NewSecret()}, nil)]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 3 {
		t.Fatalf("guessed tokens answered %v: want 5 × 401 then 429", codes)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+tw.HTTPAddr()+"/api/v1/enroll", strings.NewReader(`{}`))
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || err != nil || s < 1 {
		t.Errorf("past the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A wrong operator token counts too; the right one is never slowed.
	codes = map[int]int{}
	for range 7 {
		codes[tw.call(t, false, "GET", "/api/v1/sites", nil, nil)]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 2 {
		t.Errorf("refused operator requests answered %v: want 5 × 401 then 429", codes)
	}
	if code := tw.call(t, true, "GET", "/api/v1/sites", nil, nil); code != http.StatusOK {
		t.Errorf("the operator's token: %d", code)
	}
	tw.clock.Advance(time.Minute)
	if code := tw.call(t, false, "POST", "/api/v1/enroll", map[string]string{"site": "site-a", "token": fleet.NewSecret()}, nil); code != http.StatusUnauthorized {
		t.Errorf("a minute later: %d, want the token checked (401)", code)
	}
}
