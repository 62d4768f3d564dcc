package screen

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden renders every scene on a 16x2 and a 20x4 display in every
// language and compares the characters with testdata/<size>-<lang>.golden.
func TestGolden(t *testing.T) {
	now := time.Date(2025, 7, 14, 9, 30, 5, 0, time.UTC)
	for _, size := range []struct{ cols, rows int }{{16, 2}, {20, 4}} {
		for _, lang := range []string{"en", "es"} {
			name := fmt.Sprintf("%dx%d-%s", size.cols, size.rows, lang)
			t.Run(name, func(t *testing.T) {
				var b strings.Builder
				border := "+" + strings.Repeat("-", size.cols) + "+\n"
				for _, s := range Scenes() {
					lines := s.Render(size.cols, size.rows, lang, now)
					if len(lines) != size.rows {
						t.Errorf("%s: %d rows", s.Name, len(lines))
					}
					fmt.Fprintf(&b, "%s\n%s", s.Name, border)
					for _, l := range lines {
						if n := len([]rune(l)); n > size.cols {
							t.Errorf("%s: row %q is %d characters wide", s.Name, l, n)
						}
						fmt.Fprintf(&b, "|%-*s|\n", size.cols, l)
					}
					b.WriteString(border + "\n")
				}
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got := b.String(); got != string(want) {
					t.Errorf("%s differs (go test -update rewrites it; review the diff):\n%s", path, diff(string(want), got))
				}
			})
		}
	}
}

// diff lists the lines that differ, by line number.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n   got %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
