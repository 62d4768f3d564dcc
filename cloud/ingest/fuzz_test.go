package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/constellation-ev/constellation/cloud/ingest"
	"github.com/constellation-ev/constellation/syncproto"
)

type nopStore struct{}

func (nopStore) Apply(context.Context, syncproto.Message) (bool, error)     { return true, nil }
func (nopStore) ApplyBirth(context.Context, *syncproto.Birth) (bool, error) { return true, nil }
func (nopStore) ApplyDeath(context.Context, *syncproto.Death) (bool, error) { return true, nil }
func (nopStore) Desired(context.Context, string, int64) error               { return nil }
func (nopStore) AuthList(context.Context, string, int64) error              { return nil }
func (nopStore) Queued(context.Context, string) error                       { return nil }

// Whatever arrives, Handle refuses it or applies it; it never panics, and
// refuses another sender's site.
func FuzzHandle(f *testing.F) {
	f.Add("cst/v1/a/up/tx", []byte(`{"v":"1.0","site":"a","key":"k","ts":"2026-01-01T00:00:00Z","event":"started","rev":1,"id":1,"charger":"C"}`))
	f.Add("cst/v1/a/up/birth", []byte(`{"v":"1.0","site":"a","ts":"2026-01-01T00:00:00Z","boot":"b","bdSeq":1}`))
	f.Add("cst/v1/a/down/command", []byte(`{}`))
	in := ingest.New(nopStore{}, nopStore{}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		err := in.Handle(context.Background(), "b", topic, payload)
		if err == nil {
			t.Fatalf("site b's sender got %s applied", topic)
		}
		if !errors.Is(err, ingest.ErrRefused) {
			t.Fatalf("not a refusal: %v", err)
		}
	})
}
