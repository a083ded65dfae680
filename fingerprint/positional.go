package fingerprint

import (
	"fmt"
	"math"
)

// Positional holds the settings of Kale's time-aligned shape tokens (see the
// package doc). The zero value is not valid; use DefaultPositional.
type Positional struct {
	Segments int // equal pieces the series is averaged over
	Levels   int // bands each piece's mean is quantised to
}

// DefaultPositional is 16 pieces (3.75 minutes each over an hour) of 8
// levels.
var DefaultPositional = Positional{Segments: 16, Levels: 8}

// Validate reports settings that cannot encode anything.
func (p Positional) Validate() error {
	if p.Segments < 1 || p.Segments > 999 || p.Levels < 2 || p.Levels > 99 {
		return fmt.Errorf("fingerprint: positional tokens need 1..999 segments and 2..99 levels, not %d and %d", p.Segments, p.Levels)
	}
	return nil
}

// Encode returns each piece's level, 0..Levels−1, appended to dst: the series
// is min-max scaled, averaged over Segments equal pieces (a piece may share
// a point with its neighbour when the length does not divide), and each
// mean quantised. A flat series sits at the middle level. NaN and infinite
// values are skipped. A series shorter than Segments repeats its points.
func (p Positional) Encode(dst []int, values []float64) []int {
	lo, hi := MinMax(values)
	n := len(values)
	if n == 0 {
		return dst
	}
	for seg := range p.Segments {
		a := seg * n / p.Segments
		b := max((seg+1)*n/p.Segments, a+1)
		sum, cnt := 0.0, 0
		for _, v := range values[a:min(b, n)] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			sum += Unit(v, lo, hi) // scaled first: a sum of raw values could overflow
			cnt++
		}
		level := p.Levels / 2
		if hi > lo && cnt > 0 {
			x := sum / float64(cnt)
			level = min(int(x*float64(p.Levels)), p.Levels-1)
		}
		dst = append(dst, level)
	}
	return dst
}

// Token spells one piece's level as an index term, such as "p07l3".
func Token(segment, level int) string {
	return fmt.Sprintf("p%02dl%d", segment, level)
}

// Tokens returns the index terms of a series: one per piece.
func (p Positional) Tokens(values []float64) []string {
	levels := p.Encode(nil, values)
	out := make([]string, len(levels))
	for i, l := range levels {
		out[i] = Token(i, l)
	}
	return out
}

// QueryTokens returns the terms a search for values matches on: each
// piece's level and, with slack > 0, the levels within slack of it, so that
// a metric whose piece sits one band off still counts as matching there.
func (p Positional) QueryTokens(values []float64, slack int) []string {
	levels := p.Encode(nil, values)
	out := make([]string, 0, len(levels)*(2*slack+1))
	for i, l := range levels {
		for d := -slack; d <= slack; d++ {
			if x := l + d; x >= 0 && x < p.Levels {
				out = append(out, Token(i, x))
			}
		}
	}
	return out
}
