package rfid

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// UID lengths defined by ISO/IEC 14443-3 (single, double and triple size).
var uidLengths = []int{4, 7, 10}

// Hex cases a Format accepts.
const (
	CaseUpper = "upper"
	CaseLower = "lower"
)

// separators a Format accepts; anything else could be mistaken for a hex
// digit or be awkward in an OCPP id token.
var separators = []string{"", ":", "-", " "}

// Format turns a card's UID into the id token the appliance uses in OCPP.
//
// The zero Format is the default: upper-case hex, no separator, bytes in
// the order the card sent them ("04A23B1C"). Note that OCPP 1.6 limits an
// idTag to 20 characters: a 10-byte UID fills them without a separator.
type Format struct {
	// Case is "upper" (or empty) or "lower".
	Case string `toml:"case"`
	// Separator goes between bytes: "" (default), ":", "-" or " ".
	Separator string `toml:"separator"`
	// Reversed writes the bytes last first, as some installations print
	// UIDs on their cards (little-endian readers).
	Reversed bool `toml:"reversed"`
}

// Validate reports a case or separator that Token does not support.
func (f Format) Validate() error { return errors.Join(f.problems()...) }

// problems lists what Validate reports, one error per TOML key.
func (f Format) problems() []error {
	var errs []error
	switch f.Case {
	case "", CaseUpper, CaseLower:
	default:
		errs = append(errs, fmt.Errorf("case: %q is not %q or %q", f.Case, CaseUpper, CaseLower))
	}
	if !slices.Contains(separators, f.Separator) {
		errs = append(errs, fmt.Errorf("separator: %q is not one of \"\", \":\", \"-\" or \" \"", f.Separator))
	}
	return errs
}

// Token returns uid as an id token in this format. An invalid Format
// (see Validate) is used as far as it goes: an unknown case is upper case.
func (f Format) Token(uid []byte) string {
	if f.Reversed {
		uid = slices.Clone(uid)
		slices.Reverse(uid)
	}
	parts := make([]string, len(uid))
	for i, b := range uid {
		parts[i] = hex.EncodeToString([]byte{b})
	}
	s := strings.Join(parts, f.Separator)
	if f.Case == CaseLower {
		return s
	}
	return strings.ToUpper(s)
}

// ParseUID reads a UID written in hex as the operator sees it (any case,
// bytes optionally separated by ":", "-" or spaces, in the order the card
// sends them), for the simulated reader's API and tools. It accepts 4-, 7-
// and 10-byte UIDs only.
func ParseUID(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ':' || r == '-' || r == ' ' {
			return -1
		}
		return r
	}, s)
	uid, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("uid %q: not hex: %w", s, err)
	}
	if err := checkUID(uid); err != nil {
		return nil, fmt.Errorf("uid %q: %w", s, err)
	}
	return uid, nil
}

// checkUID reports a UID whose length ISO/IEC 14443-3 does not define.
func checkUID(uid []byte) error {
	if !slices.Contains(uidLengths, len(uid)) {
		return fmt.Errorf("%d bytes, want 4, 7 or 10", len(uid))
	}
	return nil
}
