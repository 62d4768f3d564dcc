package lcd

import (
	"strings"
	"unicode"
)

// romA00 holds the characters of the HD44780 character ROM A00 (the one
// on the common modules and in the AiP31068) that are not plain ASCII, by
// code. Codes 0x20 to 0x7D are ASCII except 0x5C, which is ¥.
var romA00 = map[byte]rune{
	0x5C: '¥', 0x7E: '→', 0x7F: '←', 0xDF: '°',
	0xE0: 'α', 0xE1: 'ä', 0xE2: 'β', 0xE3: 'ε', 0xE4: 'µ', 0xE5: 'σ', 0xE6: 'ρ',
	0xE8: '√', 0xEC: '¢', 0xED: '£', 0xEE: 'ñ', 0xEF: 'ö',
	0xF2: 'θ', 0xF3: '∞', 0xF4: 'Ω', 0xF5: 'ü', 0xF6: 'Σ', 0xF7: 'π', 0xFD: '÷', 0xFF: '█',
}

// codes maps every rune the ROM can show to its code.
var codes = func() map[rune]byte {
	m := map[rune]byte{'μ': 0xE4} // Greek mu looks like the micro sign
	for c := byte(0x20); c < 0x7E; c++ {
		if c != 0x5C {
			m[rune(c)] = c
		}
	}
	for c, r := range romA00 {
		m[r] = c
	}
	return m
}()

// fallback spells characters the ROM lacks with ones it has.
var fallback = func() map[rune]string {
	m := map[rune]string{
		'Ä': "A", 'Ö': "O", 'Ü': "U", 'Ñ': "N", 'Ç': "C", 'ç': "c",
		'ß': "ss", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE",
		'¿': "", '¡': "", 'º': "o", 'ª': "a", '€': "EUR", '\\': "/", '~': "-",
		'«': `"`, '»': `"`, '“': `"`, '”': `"`, '„': `"`, '‘': "'", '’': "'", '‚': "'",
		'–': "-", '—': "-", '‐': "-", '…': "...", '•': "*", '·': ".",
	}
	// Accented Latin letters lose their accent.
	for base, accented := range map[string]string{
		"a": "áàâãåā", "e": "éèêëē", "i": "íìîïī", "o": "óòôõøō", "u": "úùûū", "y": "ýÿ",
		"A": "ÁÀÂÃÅĀ", "E": "ÉÈÊËĒ", "I": "ÍÌÎÏĪ", "O": "ÓÒÔÕØŌ", "U": "ÚÙÛŪ", "Y": "Ý",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()

// Transliterate returns s as the display shows it: characters of the ROM
// as they are, accented letters without their accent, typographic quotes
// and dashes as ASCII, ¿ and ¡ and combining marks dropped, spaces and
// control characters as spaces, and anything else as '?'. Every rune of
// the result is one character on the display.
func Transliterate(s string) string {
	var b strings.Builder
	for _, r := range s {
		if c, ok := codes[r]; ok {
			b.WriteRune(decode(c))
			continue
		}
		if f, ok := fallback[r]; ok {
			b.WriteString(f)
			continue
		}
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsSpace(r), unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Encode returns the character codes that show s ([Transliterate]). It
// never returns codes below 0x20, which are the custom characters.
func Encode(s string) []byte {
	t := Transliterate(s)
	out := make([]byte, 0, len(t))
	for _, r := range t {
		out = append(out, codes[r])
	}
	return out
}

// decode returns the rune the ROM shows for code c.
func decode(c byte) rune {
	if r, ok := romA00[c]; ok {
		return r
	}
	return rune(c)
}

// decodeRow returns the text a row of codes shows.
func decodeRow(row []byte) string {
	rs := make([]rune, len(row))
	for i, c := range row {
		rs[i] = decode(c)
	}
	return string(rs)
}
