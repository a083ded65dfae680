package algorithms

import (
	"fmt"
	"math"
)

// Defaults of HoltWintersOptions. Alpha, Beta and Gamma are the values
// Brutlag published with his confidence bands (LISA 2000) and that
// RRDtool's HWPREDICT and rrd_hwreapply use as defaults for 5-minute data
// with a daily season: the level follows a change within about 1/Alpha = 10
// points, the trend is nearly fixed (a trend that moves with the noise
// makes the forecast swing), and each phase's seasonal value and deviation
// remember about 10 seasons. Delta is 3, the top of Brutlag's 2..3 range,
// because Kale judges one point at a time (RRDtool pairs Delta = 2 with a
// 6-failures-in-9 window): with Gaussian noise d ≈ E|e| = 0.80σ, so the
// band is ±2.4σ, a 1.6% two-sided false-alarm rate per point if d were
// exact. Each phase's d is updated once a season, so it is a noisy estimate
// and the measured rate on a clean daily sine with Gaussian noise is about
// 3-4% (TestHoltWintersDailySeason); the ensemble's consensus is what keeps
// single-detector alarms from paging.
const (
	DefaultHoltWintersAlpha = 0.1
	DefaultHoltWintersBeta  = 0.0035
	DefaultHoltWintersGamma = 0.1
	DefaultHoltWintersDelta = 3.0
)

// hwMinPoints is the fewest grid points Holt-Winters judges.
const hwMinPoints = 10

// hwInitDiffs is how many first differences initialise the deviation of
// the non-seasonal fallback.
const hwInitDiffs = 32

// HoltWintersOptions configures HoltWinters. The zero value of each field
// means its default.
type HoltWintersOptions struct {
	// Alpha, Beta and Gamma smooth the level, the trend, and the seasonal
	// values and deviations; each in (0, 1]. Zero means the default.
	Alpha, Beta, Gamma float64
	// Delta is the band half-width in smoothed deviations, > 0. Zero means
	// DefaultHoltWintersDelta.
	Delta float64
	// Period is the season in seconds. Zero means found by FindSeason with
	// Season; negative means never seasonal (double exponential smoothing
	// only).
	Period int64
	// Season configures the season search when Period is zero.
	Season SeasonOptions
}

// Validate reports an option out of its range.
func (o HoltWintersOptions) Validate() error {
	for _, p := range [...]struct {
		name string
		v    float64
	}{{"alpha", o.Alpha}, {"beta", o.Beta}, {"gamma", o.Gamma}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("holt-winters: %s %v: must be in (0, 1]", p.name, p.v)
		}
	}
	if !(o.Delta >= 0) || math.IsInf(o.Delta, 0) {
		return fmt.Errorf("holt-winters: delta %v: must be positive", o.Delta)
	}
	return o.Season.Validate()
}

func (o HoltWintersOptions) withDefaults() HoltWintersOptions {
	if o.Alpha == 0 {
		o.Alpha = DefaultHoltWintersAlpha
	}
	if o.Beta == 0 {
		o.Beta = DefaultHoltWintersBeta
	}
	if o.Gamma == 0 {
		o.Gamma = DefaultHoltWintersGamma
	}
	if o.Delta == 0 {
		o.Delta = DefaultHoltWintersDelta
	}
	o.Season = o.Season.withDefaults()
	return o
}

// HoltWinters judges the newest point against the one-step forecast of
// additive Holt-Winters (triple exponential smoothing) with Brutlag's
// confidence band.
//
// The series is first resampled onto a regular grid (see FindSeason), so
// irregular and gappy series are handled and the newest value is the last
// grid point x_N. The season m (points) is Period/step when Period > 0, else
// the one FindSeason finds (daily or weekly by default); it is used only if
// the grid holds at least 2m+1 points.
//
// Seasonal model, for t = 0..N with states from before point 0:
//
//	ŷ_t = l_{t-1} + b_{t-1} + s_{t-m}
//	e_t = x_t - ŷ_t
//	l_t = α(x_t - s_{t-m}) + (1-α)(l_{t-1} + b_{t-1})
//	b_t = β(l_t - l_{t-1}) + (1-β) b_{t-1}
//	s_t = γ(x_t - l_{t-1} - b_{t-1}) + (1-γ) s_{t-m}
//	d_t = γ|e_t| + (1-γ) d_{t-m}
//
// (the error-correction form of statsmodels' ExponentialSmoothing and of
// Hyndman's ETS(A,A,A); d is Brutlag's seasonal predicted deviation).
// Initial states from the first two seasons, means M1 and M2:
// b = (M2-M1)/m; l = M1 - b(m+1)/2 (the level one step before point 0);
// s_j = mean over k=0,1 of x_{j+km} - M1 - b(j + km - (m-1)/2), which sums to
// zero; every d_j = mean_j |D_j - mean(D)| / √2 with D_j = x_{j+m} - x_j, an
// estimate of E|e| = σ√(2/π) for Gaussian noise of deviation σ.
//
// Non-seasonal fallback (no season found, Period < 0, or fewer than 2m+1
// points): Holt's double exponential smoothing, the same equations without
// s, and d_t = γ|e_t| + (1-γ)d_{t-1} smoothed every point; with k =
// min(32, N): b = (x_k - x_0)/k, l = x_0 - b (one step before point 0),
// d = the mean |x_t - x_{t-1}| over t = 1..k.
//
// Verdict: x_N is anomalous when |e_N| > δ·d, d the deviation of its phase
// before the update (d_{N-m}, or d_{N-1} without season); Ratio =
// |e_N|/(δ·d). d is floored at 1e-13·max|x| so rounding noise on a constant
// series cannot decide; if that is 0 (all zeros), Ratio is 0 when e_N = 0
// and +Inf otherwise.
//
// Degenerate cases: fewer than 10 grid points or no finite value: Vote No,
// Ratio NaN; the newest value NaN or ±Inf: Vote No, Ratio NaN; len(t) !=
// len(v), timestamps not ascending, or invalid options: Vote None, Ratio NaN.
// now is not used (the newest point is judged whatever its age). Cost O(n)
// plus the season search; s slots used: Floats 0-3, Ints 0.
func HoltWinters(t []int64, v []float64, now int64, s *Scratch, opt HoltWintersOptions) Outcome {
	r, ok := hwFit(t, v, s, opt)
	if !ok {
		return Outcome{Vote: None, Ratio: math.NaN()}
	}
	if !r.defined {
		return undefined
	}
	ratio := hwRatio(r.err, r.delta*r.dev)
	if ratio > 1 {
		return yes(ratio)
	}
	return no(ratio)
}

// hwResult is the state of the model at the newest point, for the verdict
// and for tests.
type hwResult struct {
	defined    bool
	period     int     // 0 without season
	step       int64   // grid step, seconds
	forecast   float64 // ŷ_N
	err        float64 // e_N
	dev        float64 // floored deviation used for the band
	delta      float64
	level      float64   // l_{N-1}
	trend      float64   // b_{N-1}
	seasonal   []float64 // s by phase (grid index mod m), in scratch
	deviations []float64 // d by phase, in scratch
}

// hwFit runs the model; ok is false for unreadable input or bad options.
func hwFit(t []int64, v []float64, s *Scratch, opt HoltWintersOptions) (hwResult, bool) {
	if opt.Validate() != nil {
		return hwResult{}, false
	}
	opt = opt.withDefaults()
	x, step, err := seasonResample(t, v, s)
	if err != nil {
		return hwResult{}, false
	}
	if x == nil || len(x) < hwMinPoints || math.IsNaN(v[len(v)-1]) || math.IsInf(v[len(v)-1], 0) {
		return hwResult{}, true
	}
	m := 0
	switch {
	case opt.Period > 0:
		m = int((opt.Period + step/2) / step)
	case opt.Period == 0:
		m = seasonDetect(x, step, s, opt.Season).Period
	}
	var r hwResult
	if m >= 2 && len(x) >= 2*m+1 {
		r = hwSeasonal(x, m, opt, s)
	} else {
		r = hwHolt(x, opt)
	}
	r.step = step
	r.delta = opt.Delta
	scale := 0.0
	for _, xi := range x {
		if a := math.Abs(xi); a > scale { // not max(): it is slow on NaN checks
			scale = a
		}
	}
	if math.IsNaN(r.err) || math.IsInf(r.err, 0) || math.IsNaN(r.dev) || math.IsInf(r.dev, 0) {
		return hwResult{}, true // the recursion overflowed float64: undefined, no judgement
	}
	if floor := 1e-13 * scale; r.dev < floor {
		r.dev = floor
	}
	r.defined = true
	return r, true
}

// hwSeasonal runs additive Holt-Winters over x with season m (Floats slots 2
// and 3 hold the seasonal values and deviations by phase).
func hwSeasonal(x []float64, m int, opt HoltWintersOptions, s *Scratch) hwResult {
	alpha, beta, gamma := opt.Alpha, opt.Beta, opt.Gamma
	fm := float64(m)
	var m1, m2 float64
	for j := 0; j < m; j++ {
		m1 += x[j]
		m2 += x[j+m]
	}
	m1 /= fm
	m2 /= fm
	b := (m2 - m1) / fm
	l := m1 - b*(fm+1)/2
	seas := s.Floats(2, m)
	dev := s.Floats(3, m)
	var dmean float64
	for j := 0; j < m; j++ {
		c := float64(j) - (fm-1)/2
		seas[j] = ((x[j] - m1 - b*c) + (x[j+m] - m1 - b*(c+fm))) / 2
		dmean += x[j+m] - x[j]
	}
	dmean /= fm
	var d0 float64
	for j := 0; j < m; j++ {
		d0 += math.Abs(x[j+m] - x[j] - dmean)
	}
	d0 /= fm * math.Sqrt2
	for j := range dev {
		dev[j] = d0
	}
	N := len(x) - 1
	ph := 0
	for i := 0; i < N; i++ {
		y := x[i]
		lb := l + b
		e := y - lb - seas[ph]
		ln := alpha*(y-seas[ph]) + (1-alpha)*lb
		b = beta*(ln-l) + (1-beta)*b
		seas[ph] = gamma*(y-lb) + (1-gamma)*seas[ph]
		dev[ph] = gamma*math.Abs(e) + (1-gamma)*dev[ph]
		l = ln
		ph++
		if ph == m {
			ph = 0
		}
	}
	f := l + b + seas[ph]
	return hwResult{
		period: m, forecast: f, err: x[N] - f, dev: dev[ph],
		level: l, trend: b, seasonal: seas, deviations: dev,
	}
}

// hwHolt runs Holt's double exponential smoothing with a non-seasonal
// Brutlag deviation over x.
func hwHolt(x []float64, opt HoltWintersOptions) hwResult {
	alpha, beta, gamma := opt.Alpha, opt.Beta, opt.Gamma
	k := min(hwInitDiffs, len(x)-1)
	b := (x[k] - x[0]) / float64(k)
	l := x[0] - b
	var d float64
	for i := 1; i <= k; i++ {
		d += math.Abs(x[i] - x[i-1])
	}
	d /= float64(k)
	N := len(x) - 1
	for i := 0; i < N; i++ {
		y := x[i]
		lb := l + b
		e := y - lb
		ln := alpha*y + (1-alpha)*lb
		b = beta*(ln-l) + (1-beta)*b
		d = gamma*math.Abs(e) + (1-gamma)*d
		l = ln
	}
	f := l + b
	return hwResult{forecast: f, err: x[N] - f, dev: d, level: l, trend: b}
}

// hwRatio is |e|/band with the conventions of a zero band.
func hwRatio(e, band float64) float64 {
	e = math.Abs(e)
	if band > 0 {
		return e / band
	}
	if e == 0 {
		return 0
	}
	return math.Inf(1)
}
