package screen

import (
	"strings"

	"github.com/constellation-ev/constellation/appliance/lcd"
)

// block is a piece of a screen that takes one or more rows.
type block interface {
	// lines lays the block out on rows of cols characters; exact is false
	// when it had to cut a word or shorten a label.
	lines(cols int) (rows []string, exact bool)
}

// text is a paragraph, word-wrapped over as many rows as it needs.
type text string

// pair is one row: a label on the left and a value (a number, a name) on
// the right. A label that does not fit loses words from its end.
type pair struct{ label, value string }

// layout is one way to arrange a screen: its blocks from the top.
type layout []block

func (t text) lines(cols int) ([]string, bool) {
	exact := true
	var rows []string
	line := []rune(nil)
	for _, w := range strings.Fields(lcd.Transliterate(string(t))) {
		word := []rune(w)
		switch {
		case len(line) == 0:
		case len(line)+1+len(word) <= cols:
			line = append(line, ' ')
		default:
			rows = append(rows, string(line))
			line = nil
		}
		// A word longer than the row is cut: the last resort.
		for len(line)+len(word) > cols {
			exact = false
			n := cols - len(line)
			rows = append(rows, string(append(line, word[:n]...)))
			line, word = nil, word[n:]
		}
		line = append(line, word...)
	}
	if len(line) > 0 {
		rows = append(rows, string(line))
	}
	return rows, exact
}

func (p pair) lines(cols int) ([]string, bool) {
	value := []rune(strings.TrimSpace(lcd.Transliterate(p.value)))
	label := strings.Fields(lcd.Transliterate(p.label))
	if len(value) > cols {
		return []string{string(value[:cols])}, false
	}
	exact := true
	room := cols - len(value)
	if len(value) > 0 {
		room-- // at least one space between label and value
	}
	for len(label) > 0 && runeLen(strings.Join(label, " ")) > room {
		label, exact = label[:len(label)-1], false
	}
	l := strings.Join(label, " ")
	return []string{l + strings.Repeat(" ", cols-runeLen(l)-len(value)) + string(value)}, exact
}

func runeLen(s string) int { return len([]rune(s)) }

// render returns the rows of the first layout that fits cols x rows
// exactly, or the last layout made to fit: every block gets at least one
// row while rows last, the rest go to the first blocks that want more.
func render(layouts []layout, cols, rows int) []string {
	if cols < 1 {
		return pad(nil, rows)
	}
	var blocks [][]string
	for _, l := range layouts {
		blocks = blocks[:0]
		fits, used := true, 0
		for _, b := range l {
			lines, exact := b.lines(cols)
			fits = fits && exact
			used += len(lines)
			blocks = append(blocks, lines)
		}
		if fits && used <= rows {
			return pad(join(blocks, nil), rows)
		}
	}
	share := make([]int, len(blocks))
	left := rows
	for i, b := range blocks {
		if left > 0 && len(b) > 0 {
			share[i], left = 1, left-1
		}
	}
	for i, b := range blocks {
		more := min(len(b)-share[i], left)
		share[i], left = share[i]+more, left-more
	}
	return pad(join(blocks, share), rows)
}

// join concatenates the blocks' rows, only share[i] of block i if share is given.
func join(blocks [][]string, share []int) []string {
	var out []string
	for i, b := range blocks {
		if share != nil {
			b = b[:share[i]]
		}
		out = append(out, b...)
	}
	return out
}

// pad adds blank rows up to rows.
func pad(lines []string, rows int) []string {
	for len(lines) < rows {
		lines = append(lines, "")
	}
	return lines
}
