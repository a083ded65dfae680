package algorithms

import (
	"errors"
	"fmt"
	"math"
)

// Candidate season lengths in seconds used when SeasonOptions.Periods is nil.
const (
	SeasonDaily  int64 = 86400
	SeasonWeekly int64 = 604800
)

// Defaults of SeasonOptions.
const (
	// DefaultSeasonMinStrength is the autocorrelation below which a series
	// is treated as non-seasonal. With r = A/(A+N) for a seasonal
	// component of variance A buried in white noise of variance N, 0.3
	// asks for a season carrying at least 43% of the noise variance; below
	// that the season cannot cause the false alarms a seasonal model is
	// there to prevent. Under the null (no season) r is about N(0, 1/p)
	// for p pairs, and p >= one season (>= 288 at 5-minute daily), so 0.3
	// is more than five standard errors away from chance.
	DefaultSeasonMinStrength = 0.3
	// seasonPreferShorter: a shorter candidate whose strength is within
	// this of the best candidate's wins (a daily-only series also
	// correlates at the weekly lag, and a shorter season needs less data
	// to initialise and learns its shape faster).
	seasonPreferShorter = 0.05
	// seasonMaxGridFactor caps the resampled grid at this many times the
	// number of raw points, so a series with one huge gap cannot make the
	// grid (and the work) unbounded.
	seasonMaxGridFactor = 4
	// seasonMaxPeriods bounds the candidate list (each costs a pass).
	seasonMaxPeriods = 16
)

// SeasonOptions configures FindSeason. The zero value of each field means
// its default.
type SeasonOptions struct {
	// Periods are the candidate season lengths in seconds. Nil or empty
	// means {SeasonDaily, SeasonWeekly}. Each is converted to points by
	// rounding Period/step; candidates shorter than 2 points are skipped.
	Periods []int64
	// MinStrength is the autocorrelation a candidate needs to count as a
	// season, in (0, 1]. Zero means DefaultSeasonMinStrength.
	MinStrength float64
}

// Validate reports an option out of its range.
func (o SeasonOptions) Validate() error {
	if len(o.Periods) > seasonMaxPeriods {
		return fmt.Errorf("season: %d candidate periods: at most %d", len(o.Periods), seasonMaxPeriods)
	}
	for _, p := range o.Periods {
		if p <= 0 {
			return fmt.Errorf("season: period %d: must be positive seconds", p)
		}
	}
	if !(o.MinStrength >= 0 && o.MinStrength <= 1) {
		return fmt.Errorf("season: min strength %v: must be in (0, 1]", o.MinStrength)
	}
	return nil
}

func (o SeasonOptions) withDefaults() SeasonOptions {
	if len(o.Periods) == 0 {
		o.Periods = seasonDefaultPeriods[:]
	}
	if o.MinStrength == 0 {
		o.MinStrength = DefaultSeasonMinStrength
	}
	return o
}

var seasonDefaultPeriods = [2]int64{SeasonDaily, SeasonWeekly}

// Season is what FindSeason found.
type Season struct {
	// Period is the season length in points of the resampled grid; 0
	// when the series is not seasonal (no candidate reached MinStrength,
	// or none could be measured).
	Period int
	// Step is the grid step in seconds: the median gap of t.
	Step int64
	// Strength is the autocorrelation at the chosen Period or, when
	// Period is 0, the best measured candidate's (NaN if none could be
	// measured: too short, constant).
	Strength float64
}

// errSeasonInput marks a series FindSeason cannot read (lengths differ or
// timestamps out of order); the detectors turn it into a None vote.
var errSeasonInput = errors.New("season: timestamps and values differ in length or are not ascending")

// FindSeason finds the dominant season of the series (t ascending UNIX
// seconds, v of the same length) among candidate periods.
//
// Resampling. Timestamps need not be regular (NAB's are not). The step is
// the lower median of the positive gaps t[i]-t[i-1]. The grid is
// g_k = t[n-1] - (G-1-k)*step for k = 0..G-1, with
// G = min((t[n-1]-t[0])/step + 1, 4n), so the newest point lies exactly on
// the last grid point. Each raw point with a finite value goes to its
// nearest grid point (ties to the later one); when several land on the same
// grid point the newest wins. A grid point that got none takes the value of
// the grid point before it (last observation carried forward); leading
// empty points take the first value. NaN and ±Inf values count as missing.
// For a regular series the grid is the series itself.
//
// Strength. For a candidate of L points (Period/step rounded), the grid x
// is detrended by subtracting its centred moving average of length L (the
// 2×L average with half weights at both ends when L is even, as in
// classical decomposition), which removes trend and level shifts but keeps
// the season. Strength is the Pearson correlation of the detrended values
// y_i and y_{i+L} over all i where both have a full window. A candidate is
// measured only if there are at least L such pairs (about three seasons
// of data) and L >= 2. The chosen Period is the shortest candidate whose
// strength is at least MinStrength and within 0.05 of the best strength.
//
// Degenerate cases: fewer than 3 points, no finite value, all timestamps
// equal, a constant or purely linear series (detrended variance 0, so
// strength 0), or too few points for every candidate: Period 0. Cost: O(n)
// plus O(G) per candidate; s slots used: Floats 0-2, Ints 0.
//
// It returns an error only for unreadable input (len(t) != len(v),
// timestamps not ascending) or invalid options.
func FindSeason(t []int64, v []float64, s *Scratch, opt SeasonOptions) (Season, error) {
	if err := opt.Validate(); err != nil {
		return Season{}, err
	}
	x, step, err := seasonResample(t, v, s)
	if err != nil {
		return Season{}, err
	}
	if x == nil {
		return Season{Step: step, Strength: math.NaN()}, nil
	}
	return seasonDetect(x, step, s, opt.withDefaults()), nil
}

// seasonResample builds the regular grid described on FindSeason in Floats
// slot 0 (Ints slot 0 holds the gaps). It returns x == nil with a nil
// error when the series has too few points or no finite value.
func seasonResample(t []int64, v []float64, s *Scratch) (x []float64, step int64, err error) {
	n := len(t)
	if n != len(v) {
		return nil, 0, errSeasonInput
	}
	for i := 1; i < n; i++ {
		if t[i] < t[i-1] {
			return nil, 0, errSeasonInput
		}
	}
	if n < 3 {
		return nil, 0, nil
	}
	if d := t[1] - t[0]; d > 0 && t[n-1]-t[0] == int64(n-1)*d {
		regular := true
		for i := 2; i < n; i++ {
			if t[i]-t[i-1] != d {
				regular = false
				break
			}
		}
		if regular {
			// Every gap is the step: the grid is the series itself.
			x = s.Floats(0, n)
			copy(x, v)
			return seasonFill(x), d, nil
		}
	}
	gaps := s.Ints(0, n-1)[:0]
	for i := 1; i < n; i++ {
		if d := t[i] - t[i-1]; d > 0 {
			gaps = append(gaps, d)
		}
	}
	if len(gaps) == 0 {
		return nil, 0, nil
	}
	step = seasonSelect(gaps, (len(gaps)-1)/2)
	span := t[n-1] - t[0]
	G := int64(n) * seasonMaxGridFactor
	if g := span/step + 1; g < G {
		G = g
	}
	x = s.Floats(0, int(G))
	for k := range x {
		x[k] = math.NaN()
	}
	start := t[n-1] - (G-1)*step
	half := step / 2
	for i := 0; i < n; i++ {
		if v[i]-v[i] != 0 { // NaN or ±Inf
			continue
		}
		off := t[i] - start + half
		if off < 0 {
			continue
		}
		if k := off / step; k < G {
			x[k] = v[i]
		}
	}
	return seasonFill(x), step, nil
}

// seasonFill replaces the NaN and ±Inf of x by the value before them
// (leading ones by the first finite value); nil if none is finite.
func seasonFill(x []float64) []float64 {
	first := -1
	for k, xk := range x {
		if xk-xk == 0 { // finite
			first = k
			break
		}
	}
	if first < 0 {
		return nil
	}
	for k := 0; k < first; k++ {
		x[k] = x[first]
	}
	for k := first + 1; k < len(x); k++ {
		if x[k]-x[k] != 0 {
			x[k] = x[k-1]
		}
	}
	return x
}

// seasonSelect returns the k-th smallest element of a (reordering a):
// quickselect with a median-of-three pivot and three-way partition, so
// runs of equal gaps (the common case) cost one pass.
func seasonSelect(a []int64, k int) int64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		p := seasonMedian3(a[lo], a[mid], a[hi])
		// Dutch national flag partition: [lo,lt) < p, [lt,gt] == p, (gt,hi] > p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case a[i] < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > p:
				a[i], a[gt] = a[gt], a[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return a[k]
}

func seasonMedian3(a, b, c int64) int64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		return a
	}
	return b
}

// seasonDetect measures every candidate on the grid x (Floats slot 1 holds
// prefix sums, slot 2 the detrended series).
func seasonDetect(x []float64, step int64, s *Scratch, opt SeasonOptions) Season {
	G := len(x)
	out := Season{Step: step, Strength: math.NaN()}
	measurable := false
	for _, sec := range opt.Periods {
		L := int((sec + step/2) / step)
		measurable = measurable || seasonPairs(G, L) >= L && L >= 2
	}
	if !measurable {
		return out
	}
	// Prefix sums of the values offset by the first one (for precision
	// with large offsets such as counters; the offset cancels in the
	// detrended series), and their variance for the rounding floor.
	P := s.Floats(1, G+1)
	y := s.Floats(2, G)
	x0 := x[0]
	var sum, sq float64
	P[0] = 0
	for i, xi := range x {
		c := xi - x0
		sum += c
		sq += c * c
		P[i+1] = sum
	}
	m := sum / float64(G)
	varx := max(0, sq/float64(G)-m*m)
	best := math.Inf(-1)
	type cand struct {
		L int
		r float64
	}
	var cands [seasonMaxPeriods]cand
	nc := 0
	for _, sec := range opt.Periods {
		L := int((sec + step/2) / step)
		r, ok := seasonStrength(x, P, y, x0, varx, L)
		if !ok {
			continue
		}
		if r > best {
			best = r
		}
		cands[nc] = cand{L, r}
		nc++
	}
	if nc == 0 {
		return out
	}
	out.Strength = best
	chosen := 0
	for _, c := range cands[:nc] {
		if c.r >= opt.MinStrength && c.r >= best-seasonPreferShorter && (chosen == 0 || c.L < chosen) {
			chosen = c.L
			out.Strength = c.r
		}
	}
	out.Period = chosen
	return out
}

// seasonStrength is the Pearson correlation at lag L of x minus its centred
// moving average of length L (see FindSeason); ok is false when there are
// fewer than L pairs or L < 2. P holds prefix sums of x - x0; y is
// scratch of len(x).
func seasonStrength(x, P, y []float64, x0, varx float64, L int) (r float64, ok bool) {
	G := len(x)
	if L < 2 {
		return 0, false
	}
	h := L / 2 // odd L: (L-1)/2, even L: L/2
	pairs := seasonPairs(G, L)
	if pairs < L {
		return 0, false
	}
	invL := 1 / float64(L)
	// y[i-h] = (x_i - x0) - MA_i(x - x0) for i = h..G-1-h.
	mean := x0
	y = y[:G-2*h]
	if L%2 == 0 {
		for i := h; i < G-h; i++ {
			sum := P[i+h] - P[i-h+1] + 0.5*((x[i-h]-mean)+(x[i+h]-mean))
			y[i-h] = (x[i] - mean) - sum*invL
		}
	} else {
		for i := h; i < G-h; i++ {
			y[i-h] = (x[i] - mean) - (P[i+h+1]-P[i-h])*invL
		}
	}
	ya, yb := y[:pairs], y[L:L+pairs]
	var sa, sb, saa, sbb, sab float64
	for i, a := range ya {
		b := yb[i]
		sa += a
		sb += b
		saa += a * a
		sbb += b * b
		sab += a * b
	}
	np := float64(pairs)
	ma, mb := sa/np, sb/np
	va := saa/np - ma*ma
	vb := sbb/np - mb*mb
	cov := sab/np - ma*mb
	// Detrended variance at rounding level (constant or linear series):
	// what is left is arithmetic noise, not a season.
	if floor := 1e-20 * varx; va <= floor || vb <= floor {
		return 0, true
	}
	r = cov / math.Sqrt(va*vb)
	return max(-1, min(1, r)), true
}

// seasonPairs is the number of detrended pairs (y_i, y_{i+L}) on a grid of
// G points.
func seasonPairs(G, L int) int { return G - 2*(L/2) - L }
