// Package fingerprint encodes the shape of a series as words, as Etsy's
// Oculus did (its "Shape Description Alphabet"), plus the tokens Kale's
// indexes query with.
//
// # Oculus words
//
// Given values v_1..v_n:
//
//  1. Scale to integers 0..25: s_i = ceil(25·(v_i − min)/(max − min)). A
//     constant series (max = min) scales to all zeros, where Oculus relied on
//     NaN turning into 0.
//  2. Difference, previous minus next: d_i = s_i − s_{i+1}, so a positive d is
//     a fall.
//  3. Map each d to a word by Oculus's inclusive ranges, first hit wins:
//     sdec for d ≥ 4, dec for 1 ≤ d ≤ 4, s for −1 ≤ d ≤ 1, inc for
//     −4 ≤ d ≤ −1, sinc for d ≤ −4. The overlapping bounds make the alphabet
//     asymmetric, and Kale keeps that: a fall of 1 scaled unit is dec but a
//     rise of 1 is flat (s); a fall of 4 is sdec but a rise of 4 only inc.
//  4. Drop every s and join the rest with single spaces.
//
// String returns exactly Oculus's fingerprint; Words returns it unsplit, and
// Shingles the overlapping n-grams Kale's indexes match on (Oculus matched a
// sloppy phrase, which neither ZincSearch nor a plain inverted index can
// evaluate; n-gram shingles keep local order without positions).
//
// # Positional tokens (Kale's variant)
//
// Oculus words forget when a move happened: with the flats dropped, a spike
// at the start and one at the end give the same words. Positional encodes
// the time-aligned shape instead, SAX-like: the scaled series is averaged
// over Segments equal pieces and each piece's level is quantised to Levels
// bands, giving tokens such as "p07l3" (piece 7 at level 3). Metrics that
// moved together share most of these tokens even when one lags by a few
// points. They are meant for text indexes (Elasticsearch); how much better
// candidates they give than Oculus words is not measured yet.
package fingerprint

import (
	"math"
	"strconv"
	"strings"
)

// Scale is Oculus's top scaled value: series are scaled to 0..Scale.
const Scale = 25

// Word is one symbol of Oculus's alphabet.
type Word uint8

// The Oculus alphabet. Flat (s) never appears in a fingerprint.
const (
	Flat     Word = iota // "s": a move of −1..0 scaled units (rise of 1, or none)
	SharpDec             // "sdec": a fall of 4 or more
	Dec                  // "dec": a fall of 1 to 3
	Inc                  // "inc": a rise of 2 to 4
	SharpInc             // "sinc": a rise of 5 or more
)

var wordNames = [...]string{Flat: "s", SharpDec: "sdec", Dec: "dec", Inc: "inc", SharpInc: "sinc"}

// String returns the word as Oculus spelt it.
func (w Word) String() string {
	if int(w) < len(wordNames) {
		return wordNames[w]
	}
	return "?"
}

// ScaleInts scales values to Oculus's integers 0..Scale into dst (grown as
// needed) and returns it. NaN and infinite values are ignored for min and
// max and scale to 0.
func ScaleInts(dst []int, values []float64) []int {
	dst = dst[:0]
	lo, hi := MinMax(values)
	for _, v := range values {
		s := 0
		if hi > lo && !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = int(math.Ceil(Scale * Unit(v, lo, hi)))
		}
		dst = append(dst, s)
	}
	return dst
}

// Unit maps v in [lo, hi] (lo < hi, all finite) to [0, 1], without
// overflowing when hi − lo exceeds the largest float64.
func Unit(v, lo, hi float64) float64 {
	x := (v - lo) / (hi - lo)
	if math.IsNaN(x) || math.IsInf(hi-lo, 0) {
		x = (v/2 - lo/2) / (hi/2 - lo/2)
	}
	return min(max(x, 0), 1)
}

// MinMax returns the minimum and maximum finite value (0, 0 for none).
func MinMax(values []float64) (lo, hi float64) {
	first := true
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if first {
			lo, hi, first = v, v, false
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// WordOf maps one difference d = s_i − s_{i+1} to its word by Oculus's
// ranges, in Oculus's order.
func WordOf(d int) Word {
	switch {
	case d >= 4:
		return SharpDec
	case d >= 1: // 1 ≤ d ≤ 4
		return Dec
	case d >= -1: // −1 ≤ d ≤ 1
		return Flat
	case d >= -4: // −4 ≤ d ≤ −1
		return Inc
	default:
		return SharpInc
	}
}

// Words returns the fingerprint's words (flats dropped), appended to dst.
func Words(dst []Word, values []float64) []Word {
	s := ScaleInts(make([]int, 0, len(values)), values)
	for i := 0; i+1 < len(s); i++ {
		if w := WordOf(s[i] - s[i+1]); w != Flat {
			dst = append(dst, w)
		}
	}
	return dst
}

// String returns Oculus's fingerprint of values: its words joined by
// single spaces ("" for a flat or one-point series).
func String(values []float64) string {
	return Join(Words(nil, values))
}

// Join spells words as Oculus's space-separated fingerprint.
func Join(words []Word) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.String())
	}
	return b.String()
}

// Parse reads a fingerprint written by String. Unknown words are an error.
func Parse(fp string) ([]Word, error) {
	var words []Word
	for _, f := range strings.Fields(fp) {
		w, ok := parseWord(f)
		if !ok {
			return nil, &ParseError{Word: f}
		}
		words = append(words, w)
	}
	return words, nil
}

func parseWord(s string) (Word, bool) {
	for i, n := range wordNames {
		if n == s && Word(i) != Flat {
			return Word(i), true
		}
	}
	return 0, false
}

// ParseError reports a word that is not in Oculus's alphabet.
type ParseError struct{ Word string }

func (e *ParseError) Error() string {
	return "fingerprint: unknown word " + strconv.Quote(e.Word) + " (words are sdec, dec, inc, sinc)"
}

// Shingles returns the distinct n-grams of words, each spelt as the words
// joined by "_" (for n = 3: "dec_inc_sinc"). Fewer than n words give one
// shingle of all of them; none give none.
func Shingles(words []Word, n int) []string {
	if len(words) == 0 || n <= 0 {
		return nil
	}
	if len(words) < n {
		n = len(words)
	}
	seen := make(map[string]struct{}, len(words))
	out := make([]string, 0, len(words)-n+1)
	var b strings.Builder
	for i := 0; i+n <= len(words); i++ {
		b.Reset()
		for j, w := range words[i : i+n] {
			if j > 0 {
				b.WriteByte('_')
			}
			b.WriteString(w.String())
		}
		s := b.String()
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}
