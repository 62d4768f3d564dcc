//go:build hw

package hwtests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fixturePart is recorded bus traffic, one Go literal a transaction, and
// what caused it.
type fixturePart struct {
	what     string
	literals []string
}

// takeOps returns the transactions a periph recorder (i2ctest.Record,
// spitest.Record) has recorded in ops since the last call, and forgets
// them; rec is the recorder's lock.
func takeOps[T any](rec sync.Locker, ops *[]T) []T {
	rec.Lock()
	defer rec.Unlock()
	taken := *ops
	*ops = nil
	return taken
}

// literals formats each op as a Go literal with format.
func literals[T any](ops []T, format func(T) string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = format(op)
	}
	return out
}

// writeFixture writes parts to path as a playback fixture: a header
// saying whose traffic it is and where to paste it, then each part.
func writeFixture(path, traffic, pasteInto string, parts []fixturePart) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s traffic recorded by hw-tests on %s.\n", traffic, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "// Paste into %s.\n", pasteInto)
	for _, p := range parts {
		fmt.Fprintf(&b, "\n// %s\n", p.what)
		for _, l := range p.literals {
			fmt.Fprintf(&b, "%s,\n", l)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
