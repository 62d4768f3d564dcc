package rfid

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Keyboard is a USB card reader that types each card's number as a
// keyboard would, followed by Enter, read from its Linux input device
// (/dev/input/by-id/...-event-kbd) through evdev. The device is grabbed,
// so the numbers do not reach the console.
//
// Readers type either decimal digits, the UID's value (the usual 10
// digits of a 4-byte UID; read into the fewest of 4, 7 or 10 bytes that
// hold it), or hex digits, the UID's bytes: the configuration says which,
// since "12345678" could be either. Each line is one card present for one
// poll: the Reader then sees it leave.
type Keyboard struct {
	path string
	hex  bool

	mu    sync.Mutex
	f     *os.File
	lines []string // typed, not polled yet
	err   error    // the read loop's end
}

var _ Device = (*Keyboard)(nil)

// NewKeyboard returns the keyboard-emulating reader at path, typing hex
// UIDs or decimal ones.
func NewKeyboard(path string, hex bool) *Keyboard { return &Keyboard{path: path, hex: hex} }

// evIOCGrab is EVIOCGRAB, _IOW('E', 0x90, int): exclusive access.
const evIOCGrab = 0x40044590

// Init opens and grabs the input device, and starts reading it.
func (k *Keyboard) Init(context.Context) error {
	k.Close()
	f, err := os.Open(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", ErrNoDevice, k.path, err)
	}
	if err != nil {
		return fmt.Errorf("rfid: keyboard reader: %w", err)
	}
	if err := unix.IoctlSetInt(int(f.Fd()), evIOCGrab, 1); err != nil {
		f.Close()
		return fmt.Errorf("rfid: keyboard reader %s: grab: %w", k.path, err)
	}
	k.mu.Lock()
	k.f, k.lines, k.err = f, nil, nil
	k.mu.Unlock()
	go k.read(f)
	return nil
}

// read decodes the device's events into lines until it fails or closes.
func (k *Keyboard) read(f *os.File) {
	err := decodeKeys(f, func(line string) {
		k.mu.Lock()
		if len(k.lines) < 16 { // a reader types a card a second at most
			k.lines = append(k.lines, line)
		}
		k.mu.Unlock()
	})
	k.mu.Lock()
	if k.f == f {
		k.err = err
	}
	k.mu.Unlock()
}

// Poll returns the next card typed since the last poll.
func (k *Keyboard) Poll(context.Context) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.lines) == 0 {
		if k.err != nil {
			return nil, false, fmt.Errorf("rfid: keyboard reader %s: %w", k.path, k.err)
		}
		return nil, false, nil
	}
	line := k.lines[0]
	k.lines = k.lines[1:]
	uid, err := keyboardUID(line, k.hex)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrCard, err)
	}
	return uid, true, nil
}

// Close releases the device.
func (k *Keyboard) Close() error {
	k.mu.Lock()
	f := k.f
	k.f = nil
	k.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Close()
}

// inputEvent is Linux's struct input_event: a struct timeval (two longs,
// Go's int on Linux) then type, code, value.
type inputEvent struct {
	Sec, Usec  int
	Type, Code uint16
	Value      int32
}

const (
	evKey    = 1 // EV_KEY
	keyPress = 1 // value of a key going down (0 up, 2 repeat)
	// maxLine bounds a typed line: 20 hex digits is the longest UID.
	maxLine = 32
)

// keyRunes are the keys a card reader types: digits (main row and
// keypad), the hex letters, and Enter (linux/input-event-codes.h).
var keyRunes = map[uint16]rune{
	2: '1', 3: '2', 4: '3', 5: '4', 6: '5', 7: '6', 8: '7', 9: '8', 10: '9', 11: '0',
	79: '1', 80: '2', 81: '3', 75: '4', 76: '5', 77: '6', 71: '7', 72: '8', 73: '9', 82: '0',
	30: 'A', 48: 'B', 46: 'C', 32: 'D', 18: 'E', 33: 'F',
	28: '\n', 96: '\n', // Enter, keypad Enter
}

// decodeKeys reads input events from r and calls line for each line typed
// (keys pressed up to Enter); other keys are ignored, a line longer than a
// UID is dropped. It returns r's error (io.EOF when it ends).
func decodeKeys(r io.Reader, line func(string)) error {
	var typing strings.Builder
	size := int(unsafe.Sizeof(inputEvent{}))
	buf := make([]byte, size*64)
	var pending []byte
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for len(pending) >= size {
			var ev inputEvent
			ev.Type = binary.NativeEndian.Uint16(pending[size-8:])
			ev.Code = binary.NativeEndian.Uint16(pending[size-6:])
			ev.Value = int32(binary.NativeEndian.Uint32(pending[size-4:]))
			pending = pending[size:]
			if ev.Type != evKey || ev.Value != keyPress {
				continue
			}
			switch c, ok := keyRunes[ev.Code]; {
			case !ok:
			case c == '\n':
				if typing.Len() > 0 && typing.Len() <= maxLine {
					line(typing.String())
				}
				typing.Reset()
			case typing.Len() <= maxLine:
				typing.WriteRune(c)
			}
		}
		if err != nil {
			return err
		}
	}
}

// keyboardUID reads a typed line: hex bytes, or a decimal value.
func keyboardUID(line string, hex bool) ([]byte, error) {
	if hex {
		return ParseUID(line)
	}
	v, ok := new(big.Int).SetString(line, 10)
	if !ok || strings.ContainsAny(line, "+-") {
		return nil, fmt.Errorf("typed %q: not a decimal number", line)
	}
	for _, n := range uidLengths {
		if v.BitLen() <= n*8 {
			return v.FillBytes(make([]byte, n)), nil
		}
	}
	return nil, fmt.Errorf("typed %q: more than 10 bytes", line)
}
