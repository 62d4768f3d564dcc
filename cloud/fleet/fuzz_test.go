package fleet

import "testing"

// A sessions cursor from outside is refused with ErrInvalid or taken,
// never a panic; a cursor the store made reads back as its key.
func FuzzSessionCursor(f *testing.F) {
	f.Add(sessionKey{start: 1767225600000, id: 42, site: "site-a"}.cursor())
	for _, s := range []string{"", "!!", "MTIzLjQ1Ng", "MTIzLjQ1Ni4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		k, err := parseCursor(c)
		if err != nil {
			return
		}
		again, err := parseCursor(k.cursor())
		if err != nil || again != k {
			t.Fatalf("cursor of %+v reads back as %+v, %v", k, again, err)
		}
	})
}
