package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode: Decode never panics; it either refuses a payload with one of
// its errors, or returns a valid message that encodes and decodes back to
// itself.
func FuzzDecode(f *testing.F) {
	for _, m := range examples() {
		topic, payload, err := Encode(site, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(topic, payload)
	}
	f.Add("cst/v1/depot-7/up/tx", []byte(`{"v":"1.0"}`))
	f.Add("cst/v1/depot-7/up/readings", []byte(`{"v":"1.0","s":[[]]}`))
	f.Add("cst/v1/depot-7/down/auth", []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := Decode(topic, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupportedVersion) &&
				!errors.Is(err, ErrUnknownKind) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode(%q, %q): error of no known kind: %v", topic, payload, err)
			}
			return
		}
		s, _, _ := ParseTopic(topic)
		topic2, payload2, err := Encode(s, m)
		if err != nil {
			t.Fatalf("a decoded %T does not encode: %v", m, err)
		}
		m2, err := Decode(topic2, payload2)
		if err != nil {
			t.Fatalf("a re-encoded %T does not decode: %v\n%q", m, err, payload2)
		}
		// Compared as JSON: a round trip may turn an empty list into none.
		j1, _ := json.Marshal(m)
		j2, _ := json.Marshal(m2)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("round trip changed the message:\n%s\n%s", j1, j2)
		}
	})
}

// FuzzParseTopic: a topic that parses names a valid site and a known kind
// of the topic's direction, and Topic writes it back the same.
func FuzzParseTopic(f *testing.F) {
	for k := range kinds {
		f.Add(Topic(site, k))
	}
	for _, s := range []string{"cst/v1/+/up/tx", "cst/v1//up/tx", "cst/v1/a/up/", "cst/v1/a/sideways/tx", "cst/v1/a/up/tx/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		site, k, err := ParseTopic(topic)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("ParseTopic(%q): %v", topic, err)
			}
			return
		}
		if ValidateSiteID(site) != nil || strings.ContainsAny(site, "/+#") || k.Direction() == "" || Topic(site, k) != topic {
			t.Fatalf("ParseTopic(%q) = %q, %q", topic, site, k)
		}
	})
}
