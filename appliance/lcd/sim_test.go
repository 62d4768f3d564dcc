package lcd

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/device"
)

func TestSim(t *testing.T) {
	var logs bytes.Buffer
	s, err := NewSim(16, 2, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lines, changed := s.Watch()
	if want := []string{strings.Repeat(" ", 16), strings.Repeat(" ", 16)}; !slices.Equal(lines, want) {
		t.Fatalf("blank sim shows %q", lines)
	}
	if err := s.Show([]string{"Conexión", "Tarjeta aceptada y algo más", "dropped"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("watch channel not closed by a new frame")
	}
	want := []string{"Conexion        ", "Tarjeta aceptada"}
	lines, changed = s.Watch()
	if !slices.Equal(lines, want) {
		t.Fatalf("Lines() = %q; want %q", lines, want)
	}
	if !strings.Contains(logs.String(), `msg="lcd frame" row1="Conexion        " row2="Tarjeta aceptada"`) {
		t.Errorf("log does not show the frame:\n%s", logs.String())
	}

	// The same frame again is not a change.
	logs.Reset()
	if err := s.Show([]string{"Conexion", "Tarjeta aceptada"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
		t.Fatal("watch channel closed without a change")
	default:
	}
	if logs.Len() != 0 {
		t.Errorf("unchanged frame logged: %s", logs.String())
	}

	unplugged := errors.New("unplugged")
	s.SetError(unplugged)
	if err := s.Show([]string{"x"}); !errors.Is(err, unplugged) {
		t.Fatalf("Show with SetError = %v", err)
	}
	if st := s.Status(); st.State != device.StateFailing || st.LastError != "unplugged" {
		t.Errorf("Status() = %+v", st)
	}
	s.SetError(nil)
	if st := s.Status(); st.State != device.StateOK || st.Display.Driver != DriverSim {
		t.Errorf("Status() = %+v", st)
	}
	if got, want := s.String(), "+----------------+\n|Conexion        |\n|Tarjeta aceptada|\n+----------------+\n"; got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.Lines(); strings.TrimSpace(strings.Join(got, "")) != "" {
		t.Errorf("closed sim shows %q", got)
	}
	if _, err := NewSim(16, 3, nil); err == nil {
		t.Error("NewSim(16, 3) accepted 3 rows")
	}
}
