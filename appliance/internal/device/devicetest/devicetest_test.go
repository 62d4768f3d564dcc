package devicetest

import (
	"errors"
	"fmt"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func TestCheckError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
		fail int
	}{
		{"valid", nil, nil, 0},
		{"unexpected error", errors.New("driver: bad"), nil, 1},
		{"missing error", nil, []string{"driver:"}, 1},
		{"every problem named", errors.New("driver: bad; bus: empty"), []string{"driver:", "bus:"}, 0},
		{"one problem not named", errors.New("driver: bad"), []string{"driver:", "bus:", "rows:"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			CheckError(r, tt.err, tt.want)
			if len(r.failures) != tt.fail {
				t.Errorf("failures %q, want %d", r.failures, tt.fail)
			}
		})
	}
}
