package rfid

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/device/devicetest"
)

var (
	uid4  = []byte{0x04, 0xA2, 0x3B, 0x1C}
	uid7  = []byte{0x04, 0x5D, 0x8A, 0x12, 0x34, 0x56, 0x80}
	uid10 = []byte{0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99}
)

func TestFormatToken(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		uid  []byte
		want string
	}{
		{"default 4 bytes", Format{}, uid4, "04A23B1C"},
		{"explicit upper", Format{Case: CaseUpper}, uid4, "04A23B1C"},
		{"lower", Format{Case: CaseLower}, uid4, "04a23b1c"},
		{"colons", Format{Separator: ":"}, uid4, "04:A2:3B:1C"},
		{"dashes lower", Format{Case: CaseLower, Separator: "-"}, uid4, "04-a2-3b-1c"},
		{"spaces", Format{Separator: " "}, uid4, "04 A2 3B 1C"},
		{"reversed", Format{Reversed: true}, uid4, "1C3BA204"},
		{"reversed colons", Format{Separator: ":", Reversed: true}, uid4, "1C:3B:A2:04"},
		{"7 bytes", Format{}, uid7, "045D8A12345680"},
		{"7 bytes reversed colons", Format{Separator: ":", Reversed: true}, uid7, "80:56:34:12:8A:5D:04"},
		{"10 bytes fills an OCPP 1.6 idTag", Format{}, uid10, "08112233445566778899"},
		{"10 bytes reversed lower", Format{Case: CaseLower, Reversed: true}, uid10, "99887766554433221108"},
		{"unknown case is upper", Format{Case: "title"}, uid4, "04A23B1C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.uid)
			if got := tt.f.Token(tt.uid); got != tt.want {
				t.Errorf("Token = %q, want %q", got, tt.want)
			}
			if !bytes.Equal(tt.uid, before) {
				t.Errorf("Token changed its argument: %X", tt.uid)
			}
		})
	}
}

func TestFormatValidate(t *testing.T) {
	tests := []struct {
		name    string
		f       Format
		wantErr []string // substrings; none: valid
	}{
		{"zero is the default", Format{}, nil},
		{"upper colon reversed", Format{Case: CaseUpper, Separator: ":", Reversed: true}, nil},
		{"lower dash", Format{Case: CaseLower, Separator: "-"}, nil},
		{"bad case", Format{Case: "UPPER"}, []string{`case: "UPPER" is not "upper" or "lower"`}},
		{"hex digit separator", Format{Separator: "a"}, []string{`separator: "a"`}},
		{"long separator", Format{Separator: "::"}, []string{`separator: "::"`}},
		{"both wrong", Format{Case: "x", Separator: "/"}, []string{"case:", "separator:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devicetest.CheckError(t, tt.f.Validate(), tt.wantErr)
		})
	}
}

func TestParseUID(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr string
	}{
		{in: "04A23B1C", want: uid4},
		{in: "04:a2:3b:1c", want: uid4},
		{in: "04-A2-3B-1C", want: uid4},
		{in: "04 A2 3B 1C", want: uid4},
		{in: "045D8A12345680", want: uid7},
		{in: "08:11:22:33:44:55:66:77:88:99", want: uid10},
		{in: "", wantErr: "0 bytes, want 4, 7 or 10"},
		{in: "04A23B", wantErr: "3 bytes"},
		{in: "04A23B1", wantErr: "not hex"},
		{in: "04A23B1G", wantErr: "not hex"},
		{in: "04/A2/3B/1C", wantErr: "not hex"},
		{in: "0808080808080808080808", wantErr: "11 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUID(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseUID = %X, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("ParseUID = %X, %v; want %X", got, err, tt.want)
			}
		})
	}
}

// FuzzParseUID feeds ParseUID what the local API and tools pass on: it
// must never panic, and what it accepts must be a valid UID that the
// default Format writes back as the same hex digits.
func FuzzParseUID(f *testing.F) {
	for _, s := range []string{"04A23B1C", "04:a2:3b:1c", "045D8A12345680", "08 11 22 33 44 55 66 77 88 99", "", "zz", "0-4-A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uid, err := ParseUID(s)
		if err != nil {
			return
		}
		if checkUID(uid) != nil {
			t.Fatalf("ParseUID(%q) accepted %d bytes", s, len(uid))
		}
		digits := strings.NewReplacer(":", "", "-", "", " ", "").Replace(s)
		if got := (Format{}).Token(uid); !strings.EqualFold(got, digits) {
			t.Fatalf("ParseUID(%q) = %X, Token %q", s, uid, got)
		}
	})
}

// FuzzFormat checks the Format settings read from the configuration file:
// Validate and Token never panic, and a valid Format's token reads back
// as the UID (separator removed, byte order undone).
func FuzzFormat(f *testing.F) {
	f.Add("upper", ":", false, uid4)
	f.Add("lower", "", true, uid7)
	f.Add("", "-", true, uid10)
	f.Add("x", "ab", false, []byte{})
	f.Fuzz(func(t *testing.T, kase, sep string, reversed bool, uid []byte) {
		fm := Format{Case: kase, Separator: sep, Reversed: reversed}
		tok := fm.Token(uid)
		if fm.Validate() != nil {
			return
		}
		digits := tok
		if sep != "" {
			digits = strings.ReplaceAll(tok, sep, "")
		}
		back, err := hex.DecodeString(digits)
		if err != nil {
			t.Fatalf("Token(%X) = %q: not hex: %v", uid, tok, err)
		}
		if reversed {
			slices.Reverse(back)
		}
		if !bytes.Equal(back, uid) {
			t.Fatalf("Token(%X) = %q reads back as %X", uid, tok, back)
		}
		if kase == CaseLower && tok != strings.ToLower(tok) || kase != CaseLower && tok != strings.ToUpper(tok) {
			t.Fatalf("Token(%X) = %q: wrong case for %q", uid, tok, kase)
		}
	})
}
