package lcd

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestTransliterate(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		codes    []byte // nil: the bytes of want
	}{
		{"Card accepted", "Card accepted", nil},
		{"Conexión perdida", "Conexion perdida", nil},
		{"Avería en el cargador", "Averia en el cargador", nil},
		{"ÁÉÍÓÚ áéíóú", "AEIOU aeiou", nil},
		{"Año", "Año", []byte{'A', 0xEE, 'o'}},
		{"Ñandú", "Nandu", nil},
		{"¿Qué tal? ¡Hola!", "Que tal? Hola!", nil},
		{"Straße", "Strasse", nil},
		{"Über größe", "Uber grösse", []byte{'U', 'b', 'e', 'r', ' ', 'g', 'r', 0xEF, 's', 's', 'e'}},
		{"21°C", "21°C", []byte{'2', '1', 0xDF, 'C'}},
		{"5 μs", "5 µs", []byte{'5', ' ', 0xE4, 's'}},
		{`C:\path~x`, "C:/path-x", nil},
		{"“quoted” – dash…", `"quoted" - dash...`, nil},
		{"N.º 2", "N.o 2", nil},
		{"e\u0301", "e", nil},
		{"tab\there\nnl", "tab here nl", nil},
		{"日本", "??", nil},
		{"€5", "EUR5", nil},
		{"¥ → ←", "¥ → ←", []byte{0x5C, ' ', 0x7E, ' ', 0x7F}},
	} {
		if got := Transliterate(tc.in); got != tc.want {
			t.Errorf("Transliterate(%q) = %q; want %q", tc.in, got, tc.want)
		}
		want := tc.codes
		if want == nil {
			want = []byte(tc.want)
		}
		if got := Encode(tc.in); !bytes.Equal(got, want) {
			t.Errorf("Encode(%q) = % x; want % x", tc.in, got, want)
		}
	}
}

func FuzzTransliterate(f *testing.F) {
	for _, s := range []string{"Conexión", "Año", "\x00\x07\xff", "日本", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr := Transliterate(s)
		if again := Transliterate(tr); again != tr {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, tr, again)
		}
		codes := Encode(s)
		if len(codes) != utf8.RuneCountInString(tr) {
			t.Fatalf("Encode(%q) has %d codes for %d characters", s, len(codes), utf8.RuneCountInString(tr))
		}
		for _, c := range codes {
			if c < 0x20 {
				t.Fatalf("Encode(%q) = % x: custom character code", s, codes)
			}
		}
		if got := decodeRow(codes); got != tr {
			t.Fatalf("decode(Encode(%q)) = %q; want %q", s, got, tr)
		}
	})
}
