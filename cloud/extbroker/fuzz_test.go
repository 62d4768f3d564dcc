package extbroker

import (
	"log/slog"
	"testing"
)

// The broker's dynamic security answers are outside input: any payload
// is read without a panic, and an answer reaches only its own waiter,
// never blocking the reader when the waiter is full.
func FuzzDynsecAnswer(f *testing.F) {
	for _, s := range []string{
		`{"responses":[{"command":"createClient","correlationData":"w-0"}]}`,
		`{"responses":[{"command":"getClient","correlationData":"w-0","data":{"client":{"roles":[{"rolename":"r"}]}}},{"command":"x","error":"Internal error","correlationData":"w-0"}]}`,
		`{"responses":[{"correlationData":"other"}]}`, `{"responses":null}`, `[`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		l := &Link{log: slog.New(slog.DiscardHandler)}
		answers := make(chan dynsecResponse, 1)
		l.waiters.Store("w-0", answers)
		l.dynsecAnswer(payload)
		l.dynsecAnswer(payload) // a second delivery must not block
		select {
		case a := <-answers:
			if a.CorrelationData != "w-0" {
				t.Fatalf("answer %+v reached another command's waiter", a)
			}
		default:
		}
	})
}
