package extbroker_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/cloud/extbroker"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

var errRefused = errors.New("refused")

const guard = 2 * time.Minute

// handler fails each topic's first failures calls with a store error,
// refuses topics ending in "bad", and records what it stored.
type handler struct {
	mu       sync.Mutex
	failures int
	calls    map[string]int
	stored   []string
}

func (h *handler) Handle(_ context.Context, sender, topic string, _ []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[topic]++
	switch {
	case sender != "":
		return errors.New("an external broker does not say who sent a message")
	case topic == syncproto.Topic("site-a", syncproto.KindEvent) && h.calls[topic] <= h.failures:
		return errors.New("database unavailable")
	case topic == syncproto.Topic("site-a", syncproto.KindChargerConfig):
		return errRefused
	}
	h.stored = append(h.stored, topic)
	return nil
}

func (h *handler) snapshot() ([]string, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	calls := map[string]int{}
	for k, v := range h.calls {
		calls[k] = v
	}
	return append([]string(nil), h.stored...), calls
}

// A store failure is retried until the message is stored; bad input is
// acknowledged and not retried; a granted site publishes its own topics
// only, and a revoked one is cut off.
func TestLink(t *testing.T) {
	m := cloudtest.StartMosquitto(t)
	u, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{failures: 3, calls: map[string]int{}}
	ctx := context.Background()
	link, err := extbroker.Connect(ctx, extbroker.Options{Broker: u, Username: m.Admin, Password: m.AdminPassword,
		ClientID: "watchtower-test", Handler: h, Refused: errRefused, Dynsec: true, Logger: (&cloudtest.Logs{}).Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	wctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	if err := link.WaitSubscribed(wctx); err != nil {
		t.Fatal(err)
	}
	if err := link.Dynsec().Grant(wctx, "site-a", "password-of-site-a-0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	// Granting again (an enrollment retried) is harmless.
	if err := link.Dynsec().Grant(wctx, "site-a", "password-of-site-a-0123456789abcdef"); err != nil {
		t.Fatalf("granting again: %v", err)
	}
	site := connect(t, u.Host, "site-a", "password-of-site-a-0123456789abcdef")
	for _, k := range []syncproto.Kind{syncproto.KindEvent, syncproto.KindChargerConfig, syncproto.KindTransaction} {
		if code := publish(t, site, syncproto.Topic("site-a", k)); code != 0 {
			t.Fatalf("site a publishing its %s: %#x", k, code)
		}
	}
	if code := publish(t, site, syncproto.Topic("site-b", syncproto.KindEvent)); code != 0x87 {
		t.Errorf("site a publishing on site b's topic: %#x, want not authorized", code)
	}
	want := []string{syncproto.Topic("site-a", syncproto.KindEvent), syncproto.Topic("site-a", syncproto.KindTransaction)}
	deadline := time.Now().Add(guard)
	for {
		stored, _ := h.snapshot()
		if len(stored) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", stored, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stored, calls := h.snapshot()
	if calls[want[0]] != h.failures+1 {
		t.Errorf("the failing message was handled %d times, want %d", calls[want[0]], h.failures+1)
	}
	if calls[syncproto.Topic("site-a", syncproto.KindChargerConfig)] != 1 {
		t.Errorf("the refused message was handled %d times, want once", calls[syncproto.Topic("site-a", syncproto.KindChargerConfig)])
	}
	if len(stored) != 2 || calls[syncproto.Topic("site-b", syncproto.KindEvent)] != 0 {
		t.Errorf("stored %v, calls %v", stored, calls)
	}
	if link.Handled() != 3 {
		t.Errorf("handled %d messages, want 3", link.Handled())
	}

	if err := link.Dynsec().Revoke(wctx, "site-a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-site.Done():
	case <-time.After(guard):
		t.Fatal("the revoked site is still connected")
	}
	if c, _ := tryConnect(t, u.Host, "site-a", "password-of-site-a-0123456789abcdef"); c != nil {
		t.Error("the revoked site connected again")
	}
}

func connect(t *testing.T, host, site, password string) *paho.Client {
	t.Helper()
	c, code := tryConnect(t, host, site, password)
	if c == nil {
		t.Fatalf("%s refused: %#x", site, code)
	}
	return c
}

func tryConnect(t *testing.T, host, site, password string) (*paho.Client, byte) {
	t.Helper()
	return cloudtest.Connect(t, host, syncproto.ClientID(site), site, password)
}

func publish(t *testing.T, c *paho.Client, topic string) byte {
	t.Helper()
	return cloudtest.PublishCode(t, c, topic, []byte("{}"))
}
