package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/charging"
)

// badRequestOf fails unless err is a 400 *httpError with a message.
func badRequestOf(t *testing.T, err error) string {
	t.Helper()
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusBadRequest || he.msg == "" {
		t.Fatalf("error %v (%T) is not a 400 with a message", err, err)
	}
	return he.msg
}

func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{
		`{"status":"Accepted","expiry":"2026-01-02T03:04:05Z","parentId":"P"}`,
		`{"status":"Blocked"}`, `{}`, `[]`, `null`, ``, `{"status":1}`, `{"status":"Accepted"} x`,
		`{"status":"Accepted","expiry":"2026-13-01T00:00:00Z"}`, `{"x":1}`, `{"status":"Accepted"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := decodeToken("ID", body)
		if err != nil {
			msg := badRequestOf(t, err)
			if !strings.HasPrefix(msg, "body:") && !strings.HasPrefix(msg, "status:") &&
				!strings.HasPrefix(msg, "expiry:") && !strings.HasPrefix(msg, "parentId:") {
				t.Fatalf("message %q names no field", msg)
			}
			return
		}
		switch tok.Status {
		case charging.AuthAccepted, charging.AuthBlocked, charging.AuthExpired, charging.AuthInvalid:
		default:
			t.Fatalf("accepted status %q", tok.Status)
		}
		if tok.ID != "ID" || tok.Source != TokenSource || len(tok.ParentID) > 255 {
			t.Fatalf("accepted %+v", tok)
		}
		// What was accepted encodes and decodes back the same.
		b, err := json.Marshal(tokenBody{Status: string(tok.Status), ParentID: tok.ParentID, Expiry: expiryText(tok)})
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeToken("ID", b)
		if err != nil || again.Status != tok.Status || again.ParentID != tok.ParentID || !again.Expiry.Equal(tok.Expiry) {
			t.Fatalf("round trip of %s: %+v, %v; first %+v", b, again, err, tok)
		}
	})
}

func expiryText(t charging.IDToken) string {
	if t.Expiry.IsZero() {
		return ""
	}
	return t.Expiry.Format("2006-01-02T15:04:05.999999999Z07:00")
}

func FuzzDecodeCommandPayload(f *testing.F) {
	for _, s := range []string{`{"connectorId":1,"idTag":"ABC"}`, ``, ` {} `, `[]`, `null`, `{} {}`, `{"a":`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeCommandPayload(body)
		if err != nil {
			if msg := badRequestOf(t, err); !strings.HasPrefix(msg, "body:") {
				t.Fatalf("message %q does not name the body", msg)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(p, &m); err != nil || m == nil {
			t.Fatalf("accepted %q is not a JSON object: %v", p, err)
		}
		if !bytes.Equal(p, bytes.TrimSpace(p)) {
			t.Fatalf("accepted %q has surrounding space", p)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{`{"connectorId":2,"idTag":"ABC"}`, ``, `{}`, `{"type":"Soft"}`, `{"expiry":"2026-01-02T03:04:05Z","idTag":"A"}`,
		`{"since":"yesterday","location":"ftp://x"}`, `{"keys":["a",""]}`, `{"connectorId":-1}`, `{"value":null,"key":"k"}`, `[]`} {
		for i := range charging.CommandKinds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := charging.CommandKinds[int(k)%len(charging.CommandKinds)]
		cmd, err := decodeCommand(string(kind), body)
		if err != nil {
			msg := badRequestOf(t, err)
			for _, p := range []string{"body:", "since:", "until:", "retrieveAt:", "expiry:", string(kind) + ": "} {
				if strings.HasPrefix(msg, p) {
					return
				}
			}
			t.Fatalf("message %q names no field", msg)
		}
		if cmd.Kind != kind {
			t.Fatalf("decoded %s as %s", kind, cmd.Kind)
		}
		if err := cmd.Validate(); err != nil {
			t.Fatalf("accepted %s %q, which does not validate: %v", kind, body, err)
		}
	})
}

func FuzzParseTransactionQuery(f *testing.F) {
	for _, s := range []string{"", "charger=CP1&active=true&limit=10&after=5", "limit=0", "limit=501", "after=-1",
		"active=maybe", "charger=", "x=1", "limit=1&limit=2", "charger=%FF", "after=9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http answers such queries with what it could parse; nothing of ours to test
		}
		got, err := parseTransactionQuery(q)
		if err != nil {
			msg := badRequestOf(t, err)
			for _, p := range []string{"charger:", "active:", "limit:", "after:", `"`} {
				if strings.HasPrefix(msg, p) {
					return
				}
			}
			t.Fatalf("message %q names no parameter", msg)
		}
		if got.Limit < 1 || got.Limit > MaxTransactionLimit || got.After < 0 {
			t.Fatalf("accepted %q as %+v", raw, got)
		}
		if _, ok := q["charger"]; ok != (got.ChargerID != "") {
			t.Fatalf("charger of %q lost: %+v", raw, got)
		}
	})
}

// FuzzDecodeTap: any body is a 4-, 7- or 10-byte UID or a 400 naming the
// body or the uid.
func FuzzDecodeTap(f *testing.F) {
	for _, s := range []string{`{"uid":"04A1B2C3"}`, `{"uid":"04:a1:b2:c3:d4:e5:f6"}`, `{"uid":""}`, `{}`, `[]`, ``,
		`{"uid":"04A1B2"}`, `{"uid":"zz"}`, `{"uid":1}`, `{"uid":"04A1B2C3","x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		uid, err := decodeTap(body)
		if err != nil {
			if msg := badRequestOf(t, err); !strings.HasPrefix(msg, "body:") && !strings.HasPrefix(msg, "uid:") {
				t.Fatalf("message %q names neither the body nor the uid", msg)
			}
			return
		}
		if n := len(uid); n != 4 && n != 7 && n != 10 {
			t.Fatalf("%q gave a UID of %d bytes", body, n)
		}
	})
}
