package jsonin

import (
	"strings"
	"testing"
)

type Inner struct {
	N int `json:"n"`
}

type outer struct {
	Inner
	S string `json:"s"`
	O struct {
		B bool `json:"b"`
	} `json:"o"`
}

func TestDecodeObject(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{``, "body: empty, want a JSON object"},
		{`[1]`, "body: want a JSON object"},
		{`{"s":"x"} {}`, "body: unexpected data after the JSON object"},
		{`{"s":x}`, "body: invalid JSON at byte"},
		{`{"s":`, "body: truncated JSON"},
		{`{"z":1}`, `body: unknown field "z"`},
		{`{"n":"1"}`, "n: want a number, got JSON string"}, // the embedded struct's Go name left out
		{`{"o":{"b":1}}`, "o.b: want a boolean, got JSON number"},
	} {
		var v outer
		err := DecodeObject([]byte(tt.body), &v)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.body, err, tt.want)
		}
	}
	var v outer
	if err := DecodeObject([]byte(` {"n":2,"s":"x","o":{"b":true}} `), &v); err != nil || v.N != 2 || v.S != "x" || !v.O.B {
		t.Fatalf("%+v, %v", v, err)
	}
	if q := Quote(strings.Repeat("a", 70)); q != `"`+strings.Repeat("a", 64)+`"...` {
		t.Errorf("Quote cut: %s", q)
	}
}
