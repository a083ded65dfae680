package algorithms

import (
	"fmt"
	"math"
)

// Defaults of the control charts. λ = 0.2 with L = 3 is the textbook EWMA
// design (Montgomery, Introduction to Statistical Quality Control, §9.2;
// in-control ARL ≈ 560) tuned to shifts of about 1σ; Window 10 lets the
// EWMA, whose memory is about (2-λ)/λ = 9 points, reach its asymptotic
// variance (the exact factor at i = 10 is 99.4% of it). CUSUM k = 0.5σ
// detects a 1σ shift fastest and h = 5σ gives an in-control ARL of about
// 465 (h = 4 gives 168: too many false alarms for per-point alerting);
// Window 20 is twice the ARL of a 1σ shift (10.4 points). Western Electric
// needs 8 points for rule 4, so its Window is 8.
const (
	DefaultEWMALambda          = 0.2
	DefaultEWMAL               = 3.0
	DefaultEWMAWindow          = 10
	DefaultCUSUMK              = 0.5
	DefaultCUSUMH              = 5.0
	DefaultCUSUMWindow         = 20
	DefaultWesternElectricSpan = 8
)

// ccMinBaseline is the fewest finite baseline points a chart accepts.
const ccMinBaseline = 10

// EWMAOptions configures EWMAChart. The zero value of each field means its
// default.
type EWMAOptions struct {
	// Lambda is the weight of the newest point, in (0, 1].
	Lambda float64
	// L is the control-limit width in standard deviations of the EWMA, > 0.
	L float64
	// Window is the number of newest points charted, >= 1.
	Window int
}

// Validate reports an option out of its range.
func (o EWMAOptions) Validate() error {
	if !(o.Lambda >= 0 && o.Lambda <= 1) {
		return fmt.Errorf("ewma: lambda %v: must be in (0, 1]", o.Lambda)
	}
	if !(o.L >= 0) || math.IsInf(o.L, 0) {
		return fmt.Errorf("ewma: limit width %v: must be positive", o.L)
	}
	if o.Window < 0 {
		return fmt.Errorf("ewma: window %d: must be positive", o.Window)
	}
	return nil
}

func (o EWMAOptions) withDefaults() EWMAOptions {
	if o.Lambda == 0 {
		o.Lambda = DefaultEWMALambda
	}
	if o.L == 0 {
		o.L = DefaultEWMAL
	}
	if o.Window == 0 {
		o.Window = DefaultEWMAWindow
	}
	return o
}

// EWMAChart is the exponentially weighted moving average control chart
// over the newest Window points.
//
// Control charts (statistical process control): EWMAChart, CUSUM and
// WesternElectric judge the newest point of a
// series against a baseline. All three split the series the same way: the
// newest Window points are the monitored points (phase II); every earlier
// point is the baseline (phase I), from which the in-control mean μ (sample
// mean) and σ (sample standard deviation, ddof = 1) are estimated over the
// finite values. Excluding the monitored points keeps an anomaly from
// inflating the σ it is measured against. The points are taken as
// consecutive samples whatever their timestamps; t is read only for its
// length, and now is not used.
//
// Shared degenerate cases: fewer than 10 finite baseline points, or the
// newest value NaN or ±Inf: Vote No, Ratio NaN. len(t) != len(v) or invalid
// options: Vote None, Ratio NaN. σ is floored at 1e-13·|μ| so that rounding
// noise of a constant baseline cannot decide; when that is 0 (a baseline of
// zeros) a statistic on its centre line gives Ratio 0 and any other +Inf.
// NaN values in the monitored window are skipped by EWMA and CUSUM and
// break the runs of Western Electric rules. Each chart is O(n) and uses no
// Scratch slot.
//
// EWMA: starting from z_0 = μ, for the
// i-th finite monitored value x_i (i = 1..k):
//
//	z_i = λ x_i + (1-λ) z_{i-1}
//	σ_i = σ √(λ/(2-λ) · (1 - (1-λ)^(2i)))
//
// the exact, time-varying standard deviation of z_i. The newest point is
// anomalous when |z_k - μ| > L σ_k; Ratio = |z_k - μ| / (L σ_k). With the
// defaults a single point must lie beyond about 5σ to cross the limit
// alone, while a sustained shift of 1σ crosses it within about 10 points.
func EWMAChart(t []int64, v []float64, now int64, s *Scratch, opt EWMAOptions) Outcome {
	if len(t) != len(v) || opt.Validate() != nil {
		return Outcome{Vote: None, Ratio: math.NaN()}
	}
	opt = opt.withDefaults()
	mu, sigma, ok := ccBaseline(v, opt.Window)
	if !ok {
		return undefined
	}
	lam := opt.Lambda
	z, i := mu, 0
	for _, x := range v[len(v)-opt.Window:] {
		if isFinite(x) {
			z = lam*x + (1-lam)*z
			i++
		}
	}
	sz := sigma * math.Sqrt(lam/(2-lam)*(1-math.Pow(1-lam, float64(2*i))))
	return ccVerdict(math.Abs(z-mu), opt.L*sz)
}

// CUSUMOptions configures CUSUM. The zero value of each field means its
// default.
type CUSUMOptions struct {
	// K is the reference value (allowance) in σ, >= 0 (zero means the
	// default; use a tiny value for none).
	K float64
	// H is the decision interval in σ, > 0.
	H float64
	// Window is the number of newest points accumulated, >= 1.
	Window int
}

// Validate reports an option out of its range.
func (o CUSUMOptions) Validate() error {
	if !(o.K >= 0) || math.IsInf(o.K, 0) {
		return fmt.Errorf("cusum: k %v: must be non-negative", o.K)
	}
	if !(o.H >= 0) || math.IsInf(o.H, 0) {
		return fmt.Errorf("cusum: h %v: must be positive", o.H)
	}
	if o.Window < 0 {
		return fmt.Errorf("cusum: window %d: must be positive", o.Window)
	}
	return nil
}

func (o CUSUMOptions) withDefaults() CUSUMOptions {
	if o.K == 0 {
		o.K = DefaultCUSUMK
	}
	if o.H == 0 {
		o.H = DefaultCUSUMH
	}
	if o.Window == 0 {
		o.Window = DefaultCUSUMWindow
	}
	return o
}

// CUSUM is the tabular (two one-sided) cumulative sum chart over the newest
// Window points (baseline μ, σ and degenerate cases as for EWMAChart). With K = kσ and H = hσ, from C⁺_0 = C⁻_0 = 0, for each
// finite monitored value x_i:
//
//	C⁺_i = max(0, x_i - (μ + K) + C⁺_{i-1})
//	C⁻_i = max(0, (μ - K) - x_i + C⁻_{i-1})
//
// The newest point is anomalous when max(C⁺, C⁻) > H after it; Ratio =
// max(C⁺, C⁻)/H. A shift that began inside the window keeps the chart out
// of control (that is CUSUM's meaning: the process has moved); a single
// point must exceed μ ± (h+k)σ to cross alone.
func CUSUM(t []int64, v []float64, now int64, s *Scratch, opt CUSUMOptions) Outcome {
	if len(t) != len(v) || opt.Validate() != nil {
		return Outcome{Vote: None, Ratio: math.NaN()}
	}
	opt = opt.withDefaults()
	mu, sigma, ok := ccBaseline(v, opt.Window)
	if !ok {
		return undefined
	}
	k := opt.K * sigma
	var hi, lo float64
	for _, x := range v[len(v)-opt.Window:] {
		if isFinite(x) {
			hi = max(0, x-(mu+k)+hi)
			lo = max(0, (mu-k)-x+lo)
		}
	}
	return ccVerdict(max(hi, lo), opt.H*sigma)
}

// WesternElectricOptions configures WesternElectric. The zero value of each
// field means its default.
type WesternElectricOptions struct {
	// Window is the number of newest points judged by the rules and kept
	// out of the baseline, >= 8 (rule 4 needs 8).
	Window int
}

// Validate reports an option out of its range.
func (o WesternElectricOptions) Validate() error {
	if o.Window != 0 && o.Window < DefaultWesternElectricSpan {
		return fmt.Errorf("western electric: window %d: must be at least %d", o.Window, DefaultWesternElectricSpan)
	}
	return nil
}

// WesternElectric applies the four Western Electric run rules at the newest
// point (baseline μ, σ and degenerate cases as for
// EWMAChart). With z_i = (x_i - μ)/σ and S the sign of the newest z (the side
// it is on), a rule fires only if the newest point is itself one of the
// points it counts, so that a pattern that completed earlier is not
// reported again:
//
//  1. the newest point beyond 3σ: |z_N| > 3
//  2. two of the last three beyond 2σ on side S: S·z_N > 2 and S·z > 2
//     for one of the two before
//  3. four of the last five beyond 1σ on side S: S·z_N > 1 and S·z > 1 for
//     three of the four before
//  4. eight in a row on side S: S·z > 0 for the last eight
//
// Ratio is the largest of the rules' statistic/threshold: |z_N|/3;
// min(S·z_N, max of S·z over the two before)/2; min(S·z_N, third largest
// S·z over the four before)/1; and for rule 4 the length of the run of
// consecutive points on side S ending at the newest (within the window),
// divided by 7 (the rule fires on a run longer than 7). The vote is Yes
// exactly when some rule fires, i.e. Ratio > 1. A NaN in the window counts
// as on neither side. z_N = 0 fires nothing (Ratio 0 for rule 4).
func WesternElectric(t []int64, v []float64, now int64, s *Scratch, opt WesternElectricOptions) Outcome {
	if len(t) != len(v) || opt.Validate() != nil {
		return Outcome{Vote: None, Ratio: math.NaN()}
	}
	w := opt.Window
	if w == 0 {
		w = DefaultWesternElectricSpan
	}
	mu, sigma, ok := ccBaseline(v, w)
	if !ok {
		return undefined
	}
	q := ccWERules(v[len(v)-w:], mu, sigma)
	ratio := max(q[0], q[1], q[2], q[3])
	if ratio > 1 {
		return yes(ratio)
	}
	return no(ratio)
}

// ccWERules returns the statistic/threshold of the four rules at the newest
// point of win (see WesternElectric); rule k fires when q[k-1] > 1.
func ccWERules(win []float64, mu, sigma float64) (q [4]float64) {
	N := len(win) - 1
	dN := win[N] - mu
	if dN == 0 {
		return q
	}
	side := 1.0
	if dN < 0 {
		side = -1
	}
	// sz returns S·z of the point j back from the newest; a missing point
	// is -Inf, on no side.
	sz := func(j int) float64 {
		x := win[N-j]
		if !isFinite(x) {
			return math.Inf(-1)
		}
		return ccDiv(side*(x-mu), sigma)
	}
	z0 := sz(0)
	q[0] = z0 / 3
	q[1] = min(z0, max(sz(1), sz(2))) / 2
	// Third largest of the four before.
	top := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for j := 1; j <= 4; j++ {
		z := sz(j)
		switch {
		case z > top[0]:
			top[0], top[1], top[2] = z, top[0], top[1]
		case z > top[1]:
			top[1], top[2] = z, top[1]
		case z > top[2]:
			top[2] = z
		}
	}
	q[2] = min(z0, top[2])
	run := 0
	for j := 0; j <= N && sz(j) > 0; j++ {
		run++
	}
	q[3] = float64(run) / 7
	return q
}

// ccBaseline returns the mean and sample standard deviation (ddof 1) of the
// finite values of v before its newest w points (computed relative to the
// first of them), σ floored at 1e-13·|μ|;
// ok is false when the newest value is not finite, there are fewer than
// ccMinBaseline finite baseline values, or μ or σ overflows.
func ccBaseline(v []float64, w int) (mu, sigma float64, ok bool) {
	n := len(v)
	if n <= w || !isFinite(v[n-1]) {
		return 0, 0, false
	}
	base := v[:n-w]
	// Sums relative to the first finite value x0: a constant baseline then
	// has exactly x0 as mean and 0 as deviation, and large offsets
	// (counters) lose no precision.
	var x0, sum float64
	cnt := 0
	for _, x := range base {
		if isFinite(x) {
			if cnt == 0 {
				x0 = x
			}
			sum += x - x0
			cnt++
		}
	}
	if cnt < ccMinBaseline {
		return 0, 0, false
	}
	m := sum / float64(cnt)
	var ss float64
	for _, x := range base {
		if isFinite(x) {
			d := x - x0 - m
			ss += d * d
		}
	}
	mu = x0 + m
	sigma = math.Sqrt(ss / float64(cnt-1))
	if !isFinite(mu) || !isFinite(sigma) {
		return 0, 0, false // the baseline's spread overflows float64: no judgement
	}
	if floor := 1e-13 * math.Abs(mu); sigma < floor {
		sigma = floor
	}
	return mu, sigma, true
}

// ccDiv is a/b with a zero b giving 0 for a zero a and ±Inf otherwise.
func ccDiv(a, b float64) float64 {
	if b > 0 {
		return a / b
	}
	if a == 0 {
		return 0
	}
	return math.Copysign(math.Inf(1), a)
}

// ccVerdict turns a non-negative statistic and its limit into an Outcome.
func ccVerdict(stat, limit float64) Outcome {
	r := ccDiv(stat, limit)
	if r > 1 {
		return yes(r)
	}
	return no(r)
}
