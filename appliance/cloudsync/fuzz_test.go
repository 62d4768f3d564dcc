package cloudsync

import (
	"fmt"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/syncproto"
)

// FuzzHandle feeds arbitrary downstream messages to the handler: it never
// panics, and a message syncproto refuses changes nothing.
func FuzzHandle(f *testing.F) {
	e := newEnv(f, "", nil)
	c := e.client
	c.domain, c.exec, c.runCtx = e.svc, e.exec, ctx
	site := e.opts.Site
	for _, s := range []string{
		`{"v":"1.0","site":"SITE","ts":"2026-12-01T08:00:00Z","version":2,"settings":{"heartbeat_interval":"45s","x":"y"}}`,
		`{"v":"1.0","site":"SITE","ts":"2026-12-01T08:00:00Z","version":1,"full":true,"entries":[{"id":"A","status":"Accepted"}]}`,
		`{"v":"1.0","site":"SITE","ts":"2026-12-01T08:00:00Z","version":3,"baseVersion":1,"removed":["A"]}`,
		`{"v":"1.0","site":"SITE","ts":"2026-12-01T08:00:00Z","id":"c1","charger":"CP1","command":"reset","args":{"type":"Soft"},"deadline":"2027-01-01T00:00:00Z"}`,
		`{"v":"2.0","site":"SITE"}`, `{"v":"1.0","site":"other"}`, "garbage", "",
	} {
		for _, k := range []syncproto.Kind{syncproto.KindDesired, syncproto.KindAuthList, syncproto.KindCommand} {
			f.Add(string(k), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, payload []byte) {
		topic := syncproto.Prefix + site + "/down/" + kind
		payload = []byte(strings.ReplaceAll(string(payload), "SITE", site))
		before := snapshot(t, e)
		c.handle(ctx, topic, payload)
		c.cmds.Wait() // a command's result is queued when it has run
		if _, err := syncproto.Decode(topic, payload); err != nil && snapshot(t, e) != before {
			t.Fatalf("refused message %q on %s changed state", payload, topic)
		}
	})
}

// snapshot is the state a downstream message may change.
func snapshot(t *testing.T, e *env) string {
	t.Helper()
	st, err := e.client.Status()
	must(t, err)
	toks, err := e.svc.Tokens(ctx)
	must(t, err)
	return fmt.Sprint(st.DesiredVersion, st.AuthListVersion, st.Backlog, toks)
}
