package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/cloud/broker"
	"github.com/constellation-ev/constellation/cloud/ingest"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// guard bounds every wait: a test waiting longer has hung.
const guard = time.Minute

const site = "depot-7"

// A connection's messages are begun as they arrive, while the ones
// before them are still being stored, and acknowledged in their order,
// each only once stored, with its own reason code.
func TestPubacksInOrderWhileStoring(t *testing.T) {
	h := newHandler()
	addr, acks, _ := start(t, h)
	c, code := cloudtest.Connect(t, addr, syncproto.ClientID(site), site, "secret")
	if c == nil {
		t.Fatalf("connect refused: 0x%02x", code)
	}
	topic := syncproto.Topic(site, syncproto.KindEvent)
	messages := []string{"m1", "m2", "m3", "m4"}
	outcomes := map[string]error{
		"m1": nil,
		"m2": nil,
		"m3": fmt.Errorf("%w: bad", ingest.ErrRefused),
		"m4": errors.New("store down"),
	}
	want := map[string]byte{"m1": 0, "m2": 0, "m3": 0x99, "m4": 0x80}
	codes := make(map[string]byte)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range messages {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			resp, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(m), QoS: 1})
			if resp == nil {
				t.Errorf("publish %s: %v", m, err)
				return
			}
			mu.Lock()
			codes[m] = resp.ReasonCode
			mu.Unlock()
		})
		// The next message is sent once this one is begun: none is
		// stored yet, so all four are in flight at once.
		if got := h.nextBegun(t); got != m {
			t.Fatalf("begun %q, want %q", got, m)
		}
	}
	// Stored in reverse order: the PUBACKs still go out in order.
	for _, m := range slices.Backward(messages) {
		h.finish(m, outcomes[m])
	}
	wg.Wait()
	for _, m := range messages {
		if codes[m] != want[m] {
			t.Errorf("%s: PUBACK 0x%02x, want 0x%02x", m, codes[m], want[m])
		}
	}
	ids := acks.ids(t, len(messages))
	if !slices.IsSorted(ids) {
		t.Errorf("PUBACKs written for packet ids %v, want them in the order of the messages", ids)
	}
}

// Close returns once every message begun has been stored.
func TestCloseWaitsForStoring(t *testing.T) {
	h := newHandler()
	addr, _, b := start(t, h)
	c, _ := cloudtest.Connect(t, addr, syncproto.ClientID(site), site, "secret")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_, _ = c.Publish(ctx, &paho.Publish{Topic: syncproto.Topic(site, syncproto.KindEvent), Payload: []byte("m1"), QoS: 1})
	}()
	h.nextBegun(t)
	closed := make(chan struct{})
	go func() {
		_ = b.Close()
		close(closed)
	}()
	h.finish("m1", nil)
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("Close did not return")
	}
	if !h.done("m1") {
		t.Error("Close returned before the message was stored")
	}
}

// handler is a Handler whose messages are stored when the test says.
type handler struct {
	begun    chan string
	mu       sync.Mutex
	outcomes map[string]chan error
	finished map[string]bool
}

var _ broker.Handler = (*handler)(nil)

func newHandler() *handler {
	return &handler{begun: make(chan string, 16), outcomes: map[string]chan error{}, finished: map[string]bool{}}
}

func (h *handler) outcome(m string) chan error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outcomes[m] == nil {
		h.outcomes[m] = make(chan error, 1)
	}
	return h.outcomes[m]
}

func (h *handler) Handle(ctx context.Context, sender, topic string, payload []byte) error {
	return h.Begin(ctx, sender, topic, payload)()
}

func (h *handler) Begin(_ context.Context, _, _ string, payload []byte) func() error {
	m := string(payload)
	h.begun <- m
	out := h.outcome(m)
	return func() error {
		err := <-out
		h.mu.Lock()
		h.finished[m] = true
		h.mu.Unlock()
		return err
	}
}

func (h *handler) nextBegun(t *testing.T) string {
	t.Helper()
	select {
	case m := <-h.begun:
		return m
	case <-time.After(guard):
		t.Fatal("no message begun")
		return ""
	}
}

func (h *handler) finish(m string, err error) { h.outcome(m) <- err }

func (h *handler) done(m string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.finished[m]
}

// allow admits every site with any password.
type allow struct{}

func (allow) Authenticate(context.Context, string, string) error { return nil }

// start runs a broker on loopback and returns its address, the PUBACKs
// it writes, and the broker.
func start(t *testing.T, h broker.Handler) (string, *pubacks, *broker.Broker) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acks := &pubacks{got: make(chan uint16, 64)}
	b, err := broker.New(context.Background(), &tapListener{Listener: ln, acks: acks}, allow{}, h, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return ln.Addr().String(), acks, b
}

// pubacks collects the packet ids of the PUBACKs the broker writes.
type pubacks struct{ got chan uint16 }

func (p *pubacks) read(r io.Reader) {
	for {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			_, _ = io.Copy(io.Discard, r) // the broker's writes never wait for the tap
			return
		}
		if ack, ok := cp.Content.(*packets.Puback); ok {
			p.got <- ack.PacketID
		}
	}
}

func (p *pubacks) ids(t *testing.T, n int) []uint16 {
	t.Helper()
	var out []uint16
	for range n {
		select {
		case id := <-p.got:
			out = append(out, id)
		case <-time.After(guard):
			t.Fatalf("PUBACKs written: %v, want %d", out, n)
		}
	}
	return out
}

// tapListener hands the broker connections whose writes are also parsed
// as MQTT packets.
type tapListener struct {
	net.Listener
	acks *pubacks
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	go l.acks.read(r)
	return &tapConn{Conn: c, tap: w}, nil
}

type tapConn struct {
	net.Conn
	tap *io.PipeWriter
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	_, _ = c.tap.Write(p[:n])
	return n, err
}

func (c *tapConn) Close() error {
	c.tap.Close()
	return c.Conn.Close()
}
