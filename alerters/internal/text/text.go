// Package text holds the string helpers the alert channels share to make
// untrusted text (metric names, rule names) safe for their formats.
package text

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis ends a truncated string.
const Ellipsis = "…"

// Truncate returns s unchanged when it has at most max bytes, else its
// longest prefix that ends on a rune boundary and leaves room for
// Ellipsis, followed by Ellipsis, at most max bytes in all. max below
// len(Ellipsis) gives a prefix of s without Ellipsis.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	cut := max - len(Ellipsis)
	suffix := Ellipsis
	if cut < 0 {
		cut, suffix = max, ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// OneLine returns s as valid UTF-8 on one line: invalid bytes become
// U+FFFD and every control character (CR, LF, TAB, NUL, DEL, C1, and the
// Unicode line and paragraph separators) becomes a space.
func OneLine(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || isBreak(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if isBreak(r) {
			return ' '
		}
		return r
	}, s)
}

// isBreak reports whether r is a control character or a line or paragraph
// separator.
func isBreak(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// Escape returns s as valid UTF-8 in which every control character is
// written as a Go escape (\n, \r, \t, \x00, \u0085...), so the text keeps
// its information but cannot break a line.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if !isBreak(r) {
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
	}
	return b.String()
}

// List returns the first max items of items joined by sep, followed by
// ", … (N more)" when some were left out. Each item is passed through
// OneLine. max <= 0 means no limit.
func List(items []string, sep string, max int) string {
	n := len(items)
	if max > 0 && n > max {
		n = max
	}
	var b strings.Builder
	for i, it := range items[:n] {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(OneLine(it))
	}
	if n < len(items) {
		b.WriteString(sep)
		b.WriteString(Ellipsis + " (")
		b.WriteString(strconv.Itoa(len(items) - n))
		b.WriteString(" more)")
	}
	return b.String()
}
