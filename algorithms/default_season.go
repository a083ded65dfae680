package algorithms

import (
	"fmt"
	"math"
	"sort"
)

// Defaults of SeasonalEnvelopeOptions.
const (
	// DefaultEnvelopeDays is how many previous days the envelope looks
	// back: a week, so a weekday/weekend difference shows on some day.
	DefaultEnvelopeDays = 7
	// DefaultEnvelopeMinDays is how many of them must have data near the
	// newest point's time of day: fewer than 3 days cannot tell a daily
	// pattern from chance.
	DefaultEnvelopeMinDays = 3
	// DefaultEnvelopeHalfWidth (seconds) is the half width of the time of
	// day window on each previous day: ±1 hour, so a daily pattern that
	// runs a little early or late is still recognised.
	DefaultEnvelopeHalfWidth = 3600
)

// SeasonalEnvelopeOptions configures SeasonalEnvelope. The zero value of
// each field means its default.
type SeasonalEnvelopeOptions struct {
	// Days is the number of previous days looked at, 1 to 60.
	Days int
	// MinDays is how many of the previous days must contribute, 1 to Days.
	MinDays int
	// HalfWidth is the half width in seconds of the time-of-day window,
	// 1 to 43200.
	HalfWidth int64
}

// Validate reports an option out of its range.
func (o SeasonalEnvelopeOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Days < 1 || o.Days > 60:
		return fmt.Errorf("seasonal envelope: days %d: must be 1 to 60", o.Days)
	case o.MinDays < 1 || o.MinDays > o.Days:
		return fmt.Errorf("seasonal envelope: min days %d: must be 1 to %d", o.MinDays, o.Days)
	case o.HalfWidth < 1 || o.HalfWidth > 43200:
		return fmt.Errorf("seasonal envelope: half width %d s: must be 1 to 43200", o.HalfWidth)
	}
	return nil
}

func (o SeasonalEnvelopeOptions) withDefaults() SeasonalEnvelopeOptions {
	if o.Days == 0 {
		o.Days = DefaultEnvelopeDays
	}
	if o.MinDays == 0 {
		o.MinDays = min(DefaultEnvelopeMinDays, o.Days)
	}
	if o.HalfWidth == 0 {
		o.HalfWidth = DefaultEnvelopeHalfWidth
	}
	return o
}

// SeasonalEnvelope asks whether the newest value is one the series took at
// the same time of day on previous days.
//
// With t_n the newest timestamp, D = 86400 s, w = HalfWidth and, for day
// k = 1, 2, ..., the window W_k = [t_n − kD − w, t_n − kD + w]: day k
// contributes when W_k lies wholly after t_0 (the oldest point given, so
// the window is complete) and holds at least one finite value; the
// look-back stops at the first day whose window is not complete, or after
// Days days. With lo and hi the least and greatest finite value in the
// contributing windows, the envelope is [lo, hi].
//
// Fewer than MinDays contributing days, or a newest value that is NaN or
// ±Inf: undefined (Vote No, Ratio NaN). Otherwise x_n inside [lo, hi]:
// Vote No, Ratio 0 (the value is seasonally explained); outside: Vote Yes,
// Ratio = 1 + dist/(hi − lo), dist the distance from x_n to the envelope
// (+Inf when hi = lo), so the Ratio exceeds 1 exactly when the value is
// outside. len(t) != len(v) or invalid options: Vote None, Ratio NaN.
//
// Timestamps must be ascending (as the store gives them). now is not used.
// Cost O(Days·(log n + points per window)), no allocation, no Scratch.
func SeasonalEnvelope(t []int64, v []float64, now int64, s *Scratch, opt SeasonalEnvelopeOptions) Outcome {
	if len(t) != len(v) || opt.Validate() != nil {
		return Outcome{Vote: None, Ratio: math.NaN()}
	}
	opt = opt.withDefaults()
	n := len(v)
	if n == 0 || !isFinite(v[n-1]) {
		return undefined
	}
	tn := t[n-1]
	lo, hi := math.Inf(1), math.Inf(-1)
	days := 0
	for k := 1; k <= opt.Days; k++ {
		c := tn - int64(k)*86400
		a, b := c-opt.HalfWidth, c+opt.HalfWidth
		if a < t[0] {
			break
		}
		got := false
		for i := sort.Search(n, func(i int) bool { return t[i] >= a }); i < n && t[i] <= b; i++ {
			if x := v[i]; isFinite(x) {
				lo, hi = min(lo, x), max(hi, x)
				got = true
			}
		}
		if got {
			days++
		}
	}
	if days < opt.MinDays {
		return undefined
	}
	x := v[n-1]
	if x >= lo && x <= hi {
		return no(0)
	}
	return yes(1 + ccDiv(max(lo-x, x-hi), hi-lo))
}
