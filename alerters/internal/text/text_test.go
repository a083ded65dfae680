package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "…"},
		{"abcd", 2, "ab"}, // no room for the ellipsis
		{"abcdef", 5, "ab…"},
		{"ééé", 5, "é…"}, // "é" is 2 bytes, "…" 3
		{"ééé", 4, "…"},
		{"ééé", 6, "ééé"},
		{"éééé", 7, "éé…"},
		{"abc", 0, ""},
		{"abc", -1, ""},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestOneLineAndEscape(t *testing.T) {
	tests := []struct{ in, oneLine, escape string }{
		{"plain", "plain", "plain"},
		{"a\r\nb", "a  b", `a\r\nb`},
		{"t\tz\x00", "t z ", `t\tz\x00`},
		{"x\u2028y\u0085\x7f", "x y  ", `x\u2028y\x85\x7f`},
		{"bad\xff", "bad\uFFFD", "bad\uFFFD"},
		{"温度", "温度", "温度"},
	}
	for _, tt := range tests {
		if got := OneLine(tt.in); got != tt.oneLine {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.oneLine)
		}
		if got := Escape(tt.in); got != tt.escape {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.escape)
		}
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		items []string
		max   int
		want  string
	}{
		{nil, 3, ""},
		{[]string{"a", "b"}, 3, "a, b"},
		{[]string{"a", "b", "c", "d"}, 2, "a, b, … (2 more)"},
		{[]string{"a\nb"}, 0, "a b"},
	}
	for _, tt := range tests {
		if got := List(tt.items, ", ", tt.max); got != tt.want {
			t.Errorf("List(%q, %d) = %q, want %q", tt.items, tt.max, got, tt.want)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("a\r\nb", 5)
	f.Add("ééé\xff", 4)
	f.Fuzz(func(t *testing.T, s string, max int) {
		tr := Truncate(s, max)
		if len(tr) > max && len(tr) > 0 {
			t.Errorf("Truncate(%q, %d) = %q is longer than %d", s, max, tr, max)
		}
		if utf8.ValidString(s) && !utf8.ValidString(tr) {
			t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", s, max, tr)
		}
		ol := OneLine(s)
		if !utf8.ValidString(ol) || strings.ContainsAny(ol, "\r\n\x00\u2028\u2029\u0085") {
			t.Errorf("OneLine(%q) = %q", s, ol)
		}
		es := Escape(s)
		if !utf8.ValidString(es) || strings.ContainsAny(es, "\r\n\x00\u2028\u2029\u0085") {
			t.Errorf("Escape(%q) = %q", s, es)
		}
	})
}
