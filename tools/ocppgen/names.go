package main

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fieldName is a property's Go field name: the first letter upper case,
// underscores dropped with the next letter upper case (limit_L2 → LimitL2),
// otherwise as in the schema (idToken → IdToken), as package v16 does.
func fieldName(prop string) string {
	var b strings.Builder
	for i, part := range strings.Split(prop, "_") {
		if part == "" {
			continue
		}
		if i > 0 && b.Len() > 0 && endsWithDigit(b.String()) && startsWithDigit(part) {
			b.WriteByte('_')
		}
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

// valueName turns an enumeration value into the tail of a constant name:
// separators dropped with the next letter upper case (Transaction.Begin →
// TransactionBegin, AC_single_phase → ACSinglePhase), an underscore kept
// between two digits so numbers stay apart (s309-1P-16A → S309_1P_16A).
func valueName(v string) string {
	parts := strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var b strings.Builder
	for _, part := range parts {
		if b.Len() > 0 && endsWithDigit(b.String()) && startsWithDigit(part) {
			b.WriteByte('_')
		}
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func endsWithDigit(s string) bool   { return s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' }
func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// unquote renders a JSON default value for a comment: strings without
// quotes, anything else as written.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

var (
	// <<anchor,Text>> and <<anchor>> cross references (AsciiDoc).
	xref = regexp.MustCompile(`<<([^,>]*),?([^>]*)>>`)
	// _emphasis_ and *emphasis* around a word or phrase (AsciiDoc).
	emphasis = regexp.MustCompile(`(^|[\s("'/])[_*]([^_*\s](?:[^_*]*[^_*\s])?)[_*]([\s.,;:)"'/?!]|$)`)
	spaces   = regexp.MustCompile(`\s+`)
	// A data-dictionary id: urn:x-oca:ocpp:uid:1:569324, urn:x-enexis:ecdm:uid:2:234489.
	urn = regexp.MustCompile(`^urn:[a-z-]+:[a-z]+:uid:[0-9:]+$`)
)

// cleanDoc turns a schema description into the first sentence of a Go
// comment: the data-dictionary heading (the lines up to the urn:...:uid
// line) dropped, the 2.1 "*(2.1)*" markers, AsciiDoc
// cross references, emphasis and line-continuation markers removed, HTML
// entities decoded, and whitespace (\r\n included) collapsed.
func cleanDoc(desc string) string {
	lines := strings.Split(strings.ReplaceAll(desc, "\r", ""), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if urn.MatchString(strings.TrimSpace(lines[i])) {
			lines = lines[i+1:]
			break
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(strings.TrimSpace(l), " +")
	}
	s := strings.Join(lines, " ")
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&", "*(2.1)*", "").Replace(s)
	s = xref.ReplaceAllStringFunc(s, func(m string) string {
		sub := xref.FindStringSubmatch(m)
		if sub[2] != "" {
			return sub[2]
		}
		return sub[1]
	})
	for range 2 { // adjacent matches share a separator
		s = emphasis.ReplaceAllString(s, "$1$2$3")
	}
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	s = firstSentence(s)
	if s == "" {
		return ""
	}
	s = upperFirst(s)
	if last := s[len(s)-1]; last != '.' && last != '?' && last != '!' {
		s += "."
	}
	return s
}

// firstSentence returns s up to the first full stop that ends a sentence:
// followed by a space, and not after "e.g" or "i.e".
func firstSentence(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '.' || i+1 >= len(s) || s[i+1] != ' ' {
			continue
		}
		word := s[strings.LastIndexByte(s[:i], ' ')+1 : i]
		switch strings.ToLower(word) {
		case "e.g", "i.e", "(e.g", "(i.e", "vs":
			continue
		}
		return s[:i+1]
	}
	return s
}

// wrap splits text into lines of at most width bytes where it can.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
