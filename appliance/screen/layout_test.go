package screen

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in    string
		cols  int
		want  []string
		exact bool
	}{
		{"Card accepted", 16, []string{"Card accepted"}, true},
		{"No charger connected", 16, []string{"No charger", "connected"}, true},
		{"  spaces   collapse  ", 16, []string{"spaces collapse"}, true},
		{"exactly sixteen!", 16, []string{"exactly sixteen!"}, true},
		{"Conexión perdida ahora", 16, []string{"Conexion perdida", "ahora"}, true},
		{"OverCurrentFailure", 16, []string{"OverCurrentFailu", "re"}, false},
		{"a Constellation-7F3A-long", 8, []string{"a", "Constell", "ation-7F", "3A-long"}, false},
		{"", 16, nil, true},
	} {
		got, exact := text(tc.in).lines(tc.cols)
		if !slices.Equal(got, tc.want) || exact != tc.exact {
			t.Errorf("text(%q).lines(%d) = %q, %v; want %q, %v", tc.in, tc.cols, got, exact, tc.want, tc.exact)
		}
	}
}

func TestPair(t *testing.T) {
	for _, tc := range []struct {
		label, value string
		want         string
		exact        bool
	}{
		{"Connector", "2", "Connector      2", true},
		{"", "--:--", "           --:--", true},
		{"Free", "", "Free            ", true},
		{"Energía", "12,35 kWh", "       12,35 kWh", false}, // 17 characters: the label goes
		{"Free chargers", "2 of 3", "Free      2 of 3", false},
		{"Wi-Fi", "Constellation-7F3A", "Constellation-7F", false},
		{"Wi-Fi", "sixteen chars!!!", "sixteen chars!!!", false},
	} {
		got, exact := pair{tc.label, tc.value}.lines(16)
		if len(got) != 1 || got[0] != tc.want || exact != tc.exact {
			t.Errorf("pair{%q, %q}.lines(16) = %q, %v; want %q, %v", tc.label, tc.value, got, exact, tc.want, tc.exact)
		}
	}
}

func TestRender(t *testing.T) {
	long := text("one two three four five six")
	for _, tc := range []struct {
		name    string
		layouts []layout
		want    []string
	}{
		{"first that fits", []layout{{text("too long for one row"), text("x")}, {text("short")}}, []string{"short", ""}},
		{"padded", []layout{{text("one")}}, []string{"one", ""}},
		{"last made to fit: one row each", []layout{{long, text("tail")}}, []string{"one two three", "tail"}},
		{"more blocks than rows", []layout{{text("a"), text("b"), text("c")}}, []string{"a", "b"}},
		{"empty blocks take no row", []layout{{text(""), long}}, []string{"one two three", "four five six"}},
	} {
		if got := render(tc.layouts, 13, 2); !slices.Equal(got, tc.want) {
			t.Errorf("%s: render = %q; want %q", tc.name, got, tc.want)
		}
	}
	if got := render([]layout{{long}}, 0, 2); !slices.Equal(got, []string{"", ""}) {
		t.Errorf("0 columns: %q", got)
	}
}

func TestFormats(t *testing.T) {
	en, es := env{t: textsFor("en")}, env{t: textsFor("es")}
	for _, tc := range []struct{ got, want string }{
		{en.kwh(12.345, 2), "12.35 kWh"},
		{es.kwh(12.345, 2), "12,35 kWh"},
		{en.kwh(-1, 1), "0.0 kWh"},
		{en.number(nanValue(), 1), "0.0"},
		{en.kw(7.36), "7.4 kW"},
		{es.kw(150.4), "150 kW"},
		{hms(83*time.Minute + 45*time.Second + 600*time.Millisecond), "1:23:45"},
		{hms(-time.Second), "0:00:00"},
		{hms(101 * time.Hour), "101:00:00"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
	if textsFor("fr") != textsFor("en") {
		t.Error("unknown language is not English")
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// Every language has every text.
func TestTextsComplete(t *testing.T) {
	for lang, tx := range languages {
		for _, r := range []RefusalReason{RefusedUnknown, RefusedBlocked, RefusedExpired, RefusedNoFreeConnector, RefusedInvalid} {
			if tx.reasons[r] == "" {
				t.Errorf("%s: no text for refusal %q", lang, r)
			}
		}
		for _, c := range []CloudLink{CloudConnected, CloudOffline, CloudDisabled} {
			if tx.cloud[c] == "" {
				t.Errorf("%s: no text for cloud link %q", lang, c)
			}
		}
		if strings.Count(tx.of, "%d") != 2 {
			t.Errorf("%s: of = %q", lang, tx.of)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg := Defaults()
	cfg.Language, cfg.EventTime, cfg.RotateEvery = "de", 0, 2*time.Hour
	err := cfg.Validate()
	for _, want := range []string{`language: "de" is not en or es`, "event_time: 0s is not between 1s and 1h", "rotate_every: 2h0m0s is not between 1s and 1h"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want %q", err, want)
		}
	}
}
