package rfid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

// events encodes key events as the kernel writes struct input_event.
func events(evs ...[3]int) []byte {
	size := int(unsafe.Sizeof(inputEvent{}))
	var out []byte
	for _, e := range evs {
		rec := make([]byte, size)
		binary.NativeEndian.PutUint16(rec[size-8:], uint16(e[0]))
		binary.NativeEndian.PutUint16(rec[size-6:], uint16(e[1]))
		binary.NativeEndian.PutUint32(rec[size-4:], uint32(int32(e[2])))
		out = append(out, rec...)
	}
	return out
}

// typed is what a reader sends for text: each key down and up, with the
// EV_SYN reports between them.
func typed(text string) []byte {
	codes := map[rune]int{'1': 2, '2': 3, '3': 4, '4': 5, '5': 6, '6': 7, '7': 8, '8': 9, '9': 10, '0': 11,
		'A': 30, 'B': 48, 'C': 46, 'D': 32, 'E': 18, 'F': 33, '\n': 28, '!': 42 /* shift: ignored */}
	var evs [][3]int
	for _, r := range text {
		evs = append(evs, [3]int{evKey, codes[r], 1}, [3]int{0, 0, 0}, [3]int{evKey, codes[r], 0}, [3]int{0, 0, 0})
	}
	return events(evs...)
}

func TestDecodeKeys(t *testing.T) {
	input := append(typed("0012345678\n!04A1B2C3\n\n"), events([3]int{evKey, 2, 2} /* a repeat */, [3]int{evKey, 28, 1})...)
	input = append(input, typed(strings.Repeat("1", maxLine+5)+"\n99\n")...)
	var lines []string
	err := decodeKeys(iotest.OneByteReader(bytes.NewReader(input)), func(l string) { lines = append(lines, l) })
	if err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
	if want := []string{"0012345678", "04A1B2C3", "99"}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
}

func TestKeyboardUID(t *testing.T) {
	for _, tc := range []struct {
		line string
		hex  bool
		want []byte
		err  string
	}{
		{"0012345678", false, []byte{0x00, 0xBC, 0x61, 0x4E}, ""},
		{"4294967295", false, []byte{0xFF, 0xFF, 0xFF, 0xFF}, ""},
		{"4294967296", false, []byte{0, 0, 1, 0, 0, 0, 0}, ""},
		{"04A1B2C3", true, []byte{0x04, 0xA1, 0xB2, 0xC3}, ""},
		{"04A1B2", true, nil, "3 bytes"},
		{"04A1B2C3", false, nil, "not a decimal number"},
		{"1" + strings.Repeat("0", 25), false, nil, "more than 10 bytes"},
	} {
		got, err := keyboardUID(tc.line, tc.hex)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %x, %v, want an error with %q", tc.line, got, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%q: %x, %v, want %x", tc.line, got, err, tc.want)
		}
	}
}

// TestKeyboardDevice: a missing device is missing; one that is not an
// input device fails to be grabbed; typed lines are one poll each, a bad
// one a card error.
func TestKeyboardDevice(t *testing.T) {
	ctx := context.Background()
	k := NewKeyboard(filepath.Join(t.TempDir(), "event9"), false)
	if err := k.Init(ctx); !errors.Is(err, ErrNoDevice) {
		t.Errorf("missing: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "not-evdev")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k = NewKeyboard(plain, false)
	if err := k.Init(ctx); err == nil || errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "grab") {
		t.Errorf("not an input device: %v", err)
	}
	k.lines = []string{"0012345678", "12ab"}
	if uid, ok, err := k.Poll(ctx); !ok || err != nil || !bytes.Equal(uid, []byte{0x00, 0xBC, 0x61, 0x4E}) {
		t.Errorf("poll 1: %x %v %v", uid, ok, err)
	}
	if _, _, err := k.Poll(ctx); !errors.Is(err, ErrCard) {
		t.Errorf("poll 2: %v, want a card error", err)
	}
	if _, ok, err := k.Poll(ctx); ok || err != nil {
		t.Errorf("poll 3: %v %v, want no card", ok, err)
	}
	k.err = errors.New("device unplugged")
	if _, _, err := k.Poll(ctx); err == nil || errors.Is(err, ErrCard) {
		t.Errorf("after the read loop ended: %v, want a device failure", err)
	}
}

// FuzzDecodeKeys: any bytes from the device give lines of reader keys no
// longer than a UID; never a panic.
func FuzzDecodeKeys(f *testing.F) {
	f.Add(typed("0012345678\n"))
	f.Add(events([3]int{evKey, 28, 1}, [3]int{evKey, 30, 1}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = decodeKeys(bytes.NewReader(data), func(l string) {
			if l == "" || len(l) > maxLine || strings.Trim(l, "0123456789ABCDEF") != "" {
				t.Fatalf("line %q", l)
			}
			_, _ = keyboardUID(l, false)
			_, _ = keyboardUID(l, true)
		})
	})
}
