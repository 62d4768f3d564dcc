// Package devicetest has test helpers for the station's device packages
// (rfid, lcd): checking the errors of their configuration's validation.
package devicetest

import (
	"strings"
	"testing"
)

// CheckError fails t unless err is nil when want is empty, or else err
// mentions every one of want (a validation reports all problems at once).
func CheckError(t testing.TB, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("error = nil, want one mentioning %q", want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error = %q, want it to mention %q", err, w)
		}
	}
}
