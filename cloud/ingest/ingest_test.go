package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/ingest"
	"github.com/constellation-ev/constellation/syncproto"
)

// guard bounds every wait: a test waiting longer has hung.
const guard = time.Minute

// batchStore records what it applies, in order; a Batcher, so Ingester
// goes through a group commit.
type batchStore struct {
	nopStore
	mu      sync.Mutex
	applied []string
	got     chan string // each key as it is applied
}

var _ fleet.Batcher = (*batchStore)(nil)

func (s *batchStore) ApplyBatch(_ context.Context, ms []syncproto.Message) []fleet.ApplyResult {
	out := make([]fleet.ApplyResult, len(ms))
	for i, m := range ms {
		s.record(m.Head().Key)
		out[i].Applied = true
	}
	return out
}

func (s *batchStore) ApplyBirth(context.Context, *syncproto.Birth) (bool, error) {
	s.record("birth")
	return true, nil
}

func (s *batchStore) record(what string) {
	s.mu.Lock()
	s.applied = append(s.applied, what)
	s.mu.Unlock()
	s.got <- what
}

// Records begun one after the other are applied in that order without
// waiting for anyone to wait for them; a birth is applied when its wait
// is called; bad input is refused at once.
func TestBeginOverlapsInOrder(t *testing.T) {
	s := &batchStore{got: make(chan string, 16)}
	in := ingest.New(s, s, slog.New(slog.DiscardHandler))
	encode := func(m syncproto.Message) (string, []byte) {
		t.Helper()
		topic, payload, err := syncproto.Encode("a", m)
		if err != nil {
			t.Fatal(err)
		}
		return topic, payload
	}
	h := func(key string) syncproto.Header {
		return syncproto.Header{Site: "a", Key: key, Time: time.Now().UTC()}
	}
	var waits []func() error
	begin := func(m syncproto.Message) {
		topic, payload := encode(m)
		waits = append(waits, in.Begin(context.Background(), "a", topic, payload))
	}
	begin(&syncproto.Birth{Header: h(""), Boot: "b1", BdSeq: 1})
	for _, k := range []string{"k1", "k2", "k3"} {
		begin(&syncproto.Event{Header: h(k), Event: syncproto.EventBoot, Charger: "CP1", At: time.Now().UTC()})
	}
	refused := in.Begin(context.Background(), "a", "cst/v1/a/up/event", []byte("{"))
	// No wait called yet: the records are applied meanwhile, in order.
	var early []string
	for range 3 {
		select {
		case k := <-s.got:
			early = append(early, k)
		case <-time.After(guard):
			t.Fatalf("records applied before any wait: %v, want k1 k2 k3", early)
		}
	}
	if !slices.Equal(early, []string{"k1", "k2", "k3"}) {
		t.Fatalf("applied %v, want k1 k2 k3 (and the birth not before its wait)", early)
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Errorf("wait %d: %v", i, err)
		}
	}
	if got := s.applied; !slices.Equal(got, []string{"k1", "k2", "k3", "birth"}) {
		t.Errorf("applied %v, want the records, then the birth at its wait", got)
	}
	if err := refused(); !errors.Is(err, ingest.ErrRefused) {
		t.Errorf("bad input: %v, want a refusal", err)
	}
}
