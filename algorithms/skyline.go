package algorithms

import (
	"errors"
	"math"
	"sort"
	"sync/atomic"

	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds Etsy Skyline's nine detectors and three-sigma.
//
// Every detector judges the newest point of (t, v) and exists in two forms,
// chosen by SkylineOptions.Classic:
//
//   - classic: exactly Etsy's src/analyzer/algorithms.py (archived HEAD) as
//     run under Python 3 with numpy 1.24, pandas 1.5 (ewm(com=c).mean() and
//     .std(bias=False) standing in for the removed ewma/ewmstd), scipy 1.10
//     and statsmodels 0.13, with time() equal to now. Its quirks are kept:
//     median_absolute_deviation votes None (which Skyline's consensus counts
//     as a yes) when not anomalous; first_hour_average and ks_test select
//     their windows with now; grubbs is one-sided with a population std;
//     least_squares has round() gates; histogram_bins' bin 0 and right
//     edge are special. Statistics are computed with the same floating
//     point operations as numpy/pandas (pairwise sums, two-pass variances,
//     pandas' EWM recurrence), so the verdicts match on ties too.
//   - fixed (Kale's default): the same ideas without the defects: never a
//     None vote, windows taken from the series' own last timestamp t_n
//     instead of now, sample (ddof=1) standard deviations, and an
//     undefined Outcome (No, Ratio NaN) where the statistic does not exist
//     (too short, zero spread, NaN values).
//
// Notation: x_1..x_n are the values, x_n the newest; T is Etsy's tail
// average ((x_n + x_{n−1}) + x_{n−2})/3, or x_n when n < 3; σ_d is the
// standard deviation with ddof d (sqrt(Σ(x−x̄)²/(n−d))).
//
// Classic detectors can meet a series on which Etsy's Python raises an
// exception (an empty series, a NaN/Inf for histogram_bins, a constant or
// too short ks_test reference reaching the ADF test). Skyline's Analyzer
// then discards the whole ensemble and reports the metric as not anomalous.
// A classic detector returns Outcome{None, NaN} in that case; SkylineRun
// reports it as ErrSkylineRaised so an ensemble can do as Skyline does.
//
// The detectors use Scratch Floats slots 0 to 2 only, and allocate nothing
// once those have grown (GrubbsCritical allocates once per new length).

// Sentinel errors of the package's Skyline detectors and ADF test.
var (
	// ErrSkylineRaised: on this series, one of Etsy's nine algorithms
	// raises an exception, so Skyline's Analyzer would report the metric as
	// not anomalous with an empty ensemble.
	ErrSkylineRaised = errors.New("cannot run skyline algorithms: etsy's algorithms.py raises on this series")
	// ErrADFConstant: the series is constant (statsmodels 0.13 returns NaN
	// statistics; later versions raise "Invalid input, x is constant").
	ErrADFConstant = errors.New("cannot run adf test: series is constant")
	// ErrADFTooShort: maxlag > n/2 − 2 ("maxlag must be less than
	// (nobs/2 - 1 - ntrend)"), or maxlag < 0.
	ErrADFTooShort = errors.New("cannot run adf test: series too short for maxlag")
	// ErrADFNotFinite: the series holds NaN or ±Inf.
	ErrADFNotFinite = errors.New("cannot run adf test: series is not finite")
	// ErrADFDegenerate: a regressor column is constant or linearly
	// dependent on the others (e.g. an exact arithmetic progression, whose
	// differences are all equal).
	ErrADFDegenerate = errors.New("cannot run adf test: regressors are collinear")
)

// SkylineOptions selects the form of the Skyline detectors.
type SkylineOptions struct {
	// Classic selects Etsy's exact behaviour (see the file comment);
	// false selects Kale's fixed forms.
	Classic bool
	// FullDuration is Skyline's FULL_DURATION in seconds (the span of
	// history kept), used by FirstHourAverage. 0 means 86400.
	FullDuration int64
	// HistogramMaxCount is the fixed HistogramBins' largest bin count that
	// still counts as rare. 0 means max(1, 20·n/8640): Etsy's 20 for a day
	// of 10-second points, scaled with the series length. Ignored by the
	// classic form, which uses 20.
	HistogramMaxCount float64
}

func (o SkylineOptions) fullDuration() int64 {
	if o.FullDuration <= 0 {
		return 86400
	}
	return o.FullDuration
}

// SkylineDetector is the signature shared by the nine Skyline detectors.
type SkylineDetector func(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome

// SkylineNames are the nine algorithms in the order of Etsy's settings.py
// ALGORITHMS (the order of the votes in the parity files);
// SkylineDetectors holds the matching functions.
var SkylineNames = [9]string{
	"first_hour_average",
	"mean_subtraction_cumulation",
	"stddev_from_average",
	"stddev_from_moving_average",
	"least_squares",
	"grubbs",
	"histogram_bins",
	"median_absolute_deviation",
	"ks_test",
}

// SkylineDetectors are the detectors named by SkylineNames, in that order.
var SkylineDetectors = [9]SkylineDetector{
	FirstHourAverage,
	MeanSubtractionCumulation,
	StddevFromAverage,
	StddevFromMovingAverage,
	LeastSquares,
	Grubbs,
	HistogramBins,
	MedianAbsoluteDeviation,
	KSTest,
}

var skylineImpls = [9]func(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) (Outcome, bool){
	firstHourAverage,
	meanSubtractionCumulation,
	stddevFromAverage,
	stddevFromMovingAverage,
	leastSquares,
	grubbs,
	histogramBins,
	medianAbsoluteDeviation,
	ksTest,
}

// SkylineRun runs the nine detectors in SkylineNames order into out. With
// o.Classic, it returns ErrSkylineRaised when Etsy's Python would have
// raised in one of them (out then holds the other detectors' outcomes and
// Outcome{None, NaN} for the raising ones); the fixed forms never fail.
func SkylineRun(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch, out *[9]Outcome) error {
	var err error
	for i, f := range skylineImpls {
		oc, r := f(t, v, now, o, s)
		if r {
			err = ErrSkylineRaised
			oc = raised
		}
		out[i] = oc
	}
	return err
}

// raised is the Outcome of a classic detector on which Etsy's Python raises.
var raised = Outcome{Vote: None, Ratio: math.NaN()}

func wrap(o Outcome, r bool) Outcome {
	if r {
		return raised
	}
	return o
}

// vote3 is the Outcome of a "|stat| > 3·σ" test: Ratio |stat|/(3σ).
func vote3(dev, sigma float64) Outcome {
	r := math.Abs(dev) / (3 * sigma)
	if math.Abs(dev) > 3*sigma {
		return yes(r)
	}
	return no(r)
}

// pandasMeanStd is pandas' Series.mean() and Series.std() (ddof 1) with
// their NaN skipping: NaN values are replaced by 0 in place for the
// pairwise sums and left out of the counts, as pandas' nanops do. Without
// a NaN it is meanStd(v, 1). Uses Floats slot 0 when v holds a NaN.
func pandasMeanStd(v []float64, s *Scratch) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	if !math.IsNaN(pwSum(v)) {
		return meanStd(v, 1)
	}
	buf := s.Floats(0, len(v))
	count := 0
	for i, x := range v {
		if x != x {
			buf[i] = 0
		} else {
			buf[i] = x
			count++
		}
	}
	if count == 0 {
		return math.NaN(), math.NaN()
	}
	mean = pwSum(buf) / float64(count)
	if count <= 1 {
		return mean, math.NaN()
	}
	for i, x := range v {
		if x != x {
			buf[i] = 0
		} else {
			d := mean - x
			buf[i] = float64(d * d)
		}
	}
	return mean, math.Sqrt(pwSum(buf) / float64(count-1))
}

// hasNaN reports whether v holds a NaN, or +Inf and −Inf together (their
// sum is NaN); a lone ±Inf is not caught.
func hasNaN(v []float64) bool {
	return math.IsNaN(pwSum(v))
}

// isFinite reports x is neither NaN nor ±Inf (x-x is NaN exactly for those).
func isFinite(x float64) bool { return x-x == 0 }

// MedianAbsoluteDeviation compares the newest value's distance from the
// median with the median absolute deviation (MAD).
//
// m = median(x), d_i = |x_i − m|, MAD = median(d), s = d_n/MAD (the newest
// raw value, not T). Anomalous when s > 6. Ratio = s/6. Medians skip NaN
// values as pandas does.
//
// Classic: Vote Yes when s > 6, otherwise None (Etsy's function falls off
// its end and returns nothing, which Skyline's consensus counts as a yes);
// No with Ratio NaN only when MAD = 0 (so a series with more than half its
// values equal). Raises (Outcome{None, NaN}) on an empty series.
//
// Fixed: No instead of None; MAD = 0, an empty series or a NaN newest value
// give undefined (No, NaN). Uses Floats slot 0.
func MedianAbsoluteDeviation(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(medianAbsoluteDeviation(t, v, now, o, s))
}

func medianAbsoluteDeviation(_ []int64, v []float64, _ int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	buf := s.Floats(0, n)
	m := Median(v, buf)
	// Deviations, NaN ones skipped as pandas' median does.
	d := buf[:0]
	for _, x := range v {
		if a := math.Abs(x - m); a == a {
			d = append(d, a)
		}
	}
	mad := medianInPlace(d)
	if mad == 0 {
		return undefined, false
	}
	stat := math.Abs(v[n-1]-m) / mad
	r := stat / 6
	if !o.Classic && !isFinite(stat) {
		return undefined, false // a NaN or ±Inf newest value is no evidence
	}
	if stat > 6 {
		return yes(r), false
	}
	if o.Classic {
		return Outcome{Vote: None, Ratio: r}, false
	}
	if math.IsNaN(stat) {
		return undefined, false
	}
	return no(r), false
}

// grubbsEntry is one memoised Grubbs critical value.
type grubbsEntry struct {
	n int
	g float64
}

// grubbsCache memoises GrubbsCritical, direct-mapped by n (a miss
// recomputes and allocates one entry; hits allocate nothing).
var grubbsCache [64]atomic.Pointer[grubbsEntry]

// GrubbsCritical is the one-observation Grubbs critical value at α = 0.05
// for n points, as Etsy computes it:
// G = ((n−1)/√n)·√(t²/(n−2+t²)) with t = t⁻¹_{n−2}(1 − α/(2n)), the
// Student t quantile (scipy.stats.t.isf(α/(2n), n−2)). NaN for n < 3.
func GrubbsCritical(n int) float64 {
	if n < 3 {
		return math.NaN()
	}
	slot := &grubbsCache[n%len(grubbsCache)]
	if e := slot.Load(); e != nil && e.n == n {
		return e.g
	}
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 2)}
	tq := -st.Quantile(0.05 / float64(2*n))
	t2 := tq * tq
	g := (float64(n-1) / math.Sqrt(float64(n))) * math.Sqrt(t2/(float64(n-2)+t2))
	slot.Store(&grubbsEntry{n: n, g: g})
	return g
}

// Grubbs is the Grubbs outlier test applied to the tail average.
//
// z = (T − x̄)/σ, anomalous when z > G with G = GrubbsCritical(n).
// Ratio = z/G.
//
// Classic: σ = σ_0 (scipy.std, population), one-sided (only upward
// excursions fire; Ratio may be negative). σ = 0 gives z = ±Inf or NaN
// exactly as numpy does (a constant series whose tail average exceeds the
// rounded mean fires). n < 3 gives G = NaN, so No. Raises on an empty
// series.
//
// Fixed: σ = σ_1 and two-sided (z = |T − x̄|/σ_1); n < 3, σ = 0 or NaN
// values give undefined.
func Grubbs(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(grubbs(t, v, now, o, s))
}

func grubbs(_ []int64, v []float64, _ int64, o SkylineOptions, _ *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	tail := tailAvg(v)
	if o.Classic {
		mean, sd := meanStd(v, 0)
		z := (tail - mean) / sd
		g := GrubbsCritical(n)
		if z > g {
			return yes(z / g), false
		}
		return no(z / g), false
	}
	if n < 3 {
		return undefined, false
	}
	mean, sd := meanStd(v, 1)
	if !(sd > 0) || math.IsInf(sd, 0) {
		return undefined, false
	}
	z := math.Abs(tail-mean) / sd
	g := GrubbsCritical(n)
	if z > g {
		return yes(z / g), false
	}
	return no(z / g), false
}

// FirstHourAverage compares the tail average with the first hour of the
// retained history.
//
// Anomalous when |T − mean(W)| > 3·σ_1(W) for a window W of values.
// Ratio = |T − mean(W)|/(3·σ_1(W)).
//
// Classic: W = values with t < now − (FullDuration − 3600) (Etsy's window,
// which with a wall clock also takes in points past the retained day). An
// empty or one-point W gives NaN, so No; σ_1(W) = 0 with T ≠ mean fires.
// Raises on an empty series.
//
// Fixed: W = values with t_n − FullDuration < t < t_n − FullDuration + 3600
// (t_n the newest timestamp; now is not used). Fewer than 2 points in W,
// σ_1(W) = 0, or NaN values give undefined.
func FirstHourAverage(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(firstHourAverage(t, v, now, o, s))
}

func firstHourAverage(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	fd := o.fullDuration()
	tail := tailAvg(v)
	if o.Classic {
		thr := now - (fd - 3600)
		k := sort.Search(n, func(i int) bool { return t[i] >= thr })
		mean, sd := pandasMeanStd(v[:k], s)
		return vote3(tail-mean, sd), false
	}
	lo := t[n-1] - fd
	hi := lo + 3600
	i0 := sort.Search(n, func(i int) bool { return t[i] > lo })
	i1 := sort.Search(n, func(i int) bool { return t[i] >= hi })
	if i1-i0 < 2 {
		return undefined, false
	}
	mean, sd := meanStd(v[i0:i1], 1)
	if !(sd > 0) || !isFinite(tail) || math.IsInf(sd, 0) {
		return undefined, false
	}
	return vote3(tail-mean, sd), false
}

// StddevFromAverage compares the tail average with the whole series.
//
// Anomalous when |T − x̄| > 3·σ_1 over all n values (the tail included).
// Ratio = |T − x̄|/(3·σ_1).
//
// Classic: n = 1 gives σ_1 = NaN, so No. Raises on an empty series.
// Fixed: n < 2, σ_1 = 0 or NaN values give undefined.
func StddevFromAverage(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(stddevFromAverage(t, v, now, o, s))
}

func stddevFromAverage(_ []int64, v []float64, _ int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	tail := tailAvg(v)
	if o.Classic {
		mean, sd := pandasMeanStd(v, s)
		return vote3(tail-mean, sd), false
	}
	mean, sd := meanStd(v, 1)
	if !(sd > 0) || math.IsInf(sd, 0) || !isFinite(tail) {
		return undefined, false
	}
	return vote3(tail-mean, sd), false
}

// StddevFromMovingAverage compares the newest value with an exponentially
// weighted moving average.
//
// With μ_n, s_n the last values of pandas' ewm(com=50).mean() and
// .std(bias=False) (see EWMMeanStd: α = 1/51, bias-adjusted weights,
// unbiased EW variance), anomalous when |x_n − μ_n| > 3·s_n (the newest raw
// value, not T). Ratio = |x_n − μ_n|/(3·s_n).
//
// Classic: n = 1 gives s_n = NaN, so No. Raises on an empty series.
// Fixed: n < 2, s_n = 0, or a NaN newest value give undefined.
func StddevFromMovingAverage(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(stddevFromMovingAverage(t, v, now, o, s))
}

func stddevFromMovingAverage(_ []int64, v []float64, _ int64, o SkylineOptions, _ *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	mu, sd := EWMMeanStd(v, 50)
	dev := v[n-1] - mu
	if !o.Classic && (!(sd > 0) || !isFinite(dev) || math.IsInf(sd, 0)) {
		return undefined, false
	}
	return vote3(dev, sd), false
}

// MeanSubtractionCumulation compares the newest value with the mean and
// spread of all earlier values (nothing is cumulated despite the name).
//
// Classic: Etsy's steps: falsy values (0) are kept as 0 (NaN stays NaN),
// m = mean(x_1..x_{n−1}), y_i = x_i − m, σ = σ_1(y_1..y_{n−1}); anomalous
// when |y_n| > 3σ. Ratio = |y_n|/(3σ). n ≤ 2 gives σ = NaN, so No. Raises
// on an empty series.
//
// Fixed: the same test without the shift, |x_n − mean(h)| > 3·σ_1(h) for
// the history h = x_1..x_{n−1}; n < 3, σ_1(h) = 0 or NaN values give
// undefined.
func MeanSubtractionCumulation(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(meanSubtractionCumulation(t, v, now, o, s))
}

func meanSubtractionCumulation(_ []int64, v []float64, _ int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	if o.Classic {
		m, _ := pandasMeanStd(v[:n-1], s)
		y := s.Floats(2, n)
		for i, x := range v {
			y[i] = x - m
		}
		_, sd := pandasMeanStd(y[:n-1], s)
		return vote3(y[n-1], sd), false
	}
	if n < 3 {
		return undefined, false
	}
	m, sd := meanStd(v[:n-1], 1)
	dev := v[n-1] - m
	if !(sd > 0) || !isFinite(dev) || math.IsInf(sd, 0) {
		return undefined, false
	}
	return vote3(dev, sd), false
}

// LeastSquares fits a straight line to the series and tests the mean of
// the last three residuals.
//
// x ≈ m·t + c by ordinary least squares on (epoch seconds, values);
// e_i = x_i − (m·t_i + c); ē = (e_n + e_{n−1} + e_{n−2})/3. Anomalous when
// |ē| > 3σ. Ratio = |ē|/(3σ), capped at 1 when a gate below blocks the vote.
//
// Classic: σ = σ_0(e) (scipy.std), and also requires round(σ) ≠ 0 and
// round(ē) ≠ 0 with Python 3's round half to even (so σ and |ē| must
// exceed 0.5: the gates are in the metric's units). n < 3 gives No (Ratio
// NaN); NaN values give NaN residuals, so No. Raises on an empty series.
// The fit is the exact least-squares line (computed on centred data).
// numpy's lstsq reaches it through an SVD of the ill-conditioned [t, 1]
// matrix, which shifts every residual by about ε·cond·|m|·t̄ (cond ≈
// t̄/spread(t)): far below the noise for an hour or more of data (the
// parity corpora agree on every vote), but visible for a handful of
// points on a steep slope, so a vote can differ from Etsy's only on such
// near-degenerate series right at the threshold. Uses Floats slot 0.
//
// Fixed: σ = sqrt(Σe²/(n−2)) (two fitted parameters), no round gates; n < 4,
// NaN values, or σ ≤ 1e-12·max|x| (a line up to rounding) give undefined.
func LeastSquares(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(leastSquares(t, v, now, o, s))
}

func leastSquares(t []int64, v []float64, _ int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	if n < 3 || (!o.Classic && n < 4) {
		return undefined, false
	}
	// Centred sums: t relative to t_0 is exact in float64 for any
	// realistic span.
	t0 := t[0]
	var st, sy float64
	for i, x := range v {
		st += float64(t[i] - t0)
		sy += x
	}
	fn := float64(n)
	tm, ym := st/fn, sy/fn
	var sxx, sxy float64
	for i, x := range v {
		dt := float64(t[i]-t0) - tm
		sxx += dt * dt
		sxy += dt * (x - ym)
	}
	slope := 0.0
	if sxx > 0 {
		slope = sxy / sxx
	}
	e := s.Floats(0, n)
	if o.Classic {
		// The same line as m·t + c in absolute epoch seconds, evaluated the
		// way Etsy's loop does.
		c := ym - slope*(float64(t0)+tm)
		for i, x := range v {
			e[i] = x - (float64(slope*float64(t[i])) + c)
		}
		sd := Std(e, 0)
		tail := (e[n-1] + e[n-2] + e[n-3]) / 3
		r := math.Abs(tail) / (3 * sd)
		if math.Abs(tail) > sd*3 && math.RoundToEven(sd) != 0 && math.RoundToEven(tail) != 0 {
			return yes(r), false
		}
		return no(math.Min(r, 1)), false
	}
	scale := 0.0
	for i, x := range v {
		e[i] = (x - ym) - slope*(float64(t[i]-t0)-tm)
		scale = math.Max(scale, math.Abs(x))
	}
	sd := math.Sqrt(pwSumSqDev(e, 0) / (fn - 2))
	if math.IsNaN(sd) || math.IsInf(sd, 0) || sd <= 1e-12*scale {
		return undefined, false
	}
	tail := (e[n-1] + e[n-2] + e[n-3]) / 3
	return vote3(tail, sd), false
}

// skyBins is the number of histogram bins Etsy uses.
const skyBins = 15

// histEdges fills edges with numpy.histogram(v, bins=15)'s bin edges for a
// series with minimum lo and maximum hi: 16 points from lo to hi by
// numpy.linspace (i·step + lo, last edge exactly hi), the range widened to
// lo−0.5..hi+0.5 when lo = hi.
func histEdges(lo, hi float64, edges *[skyBins + 1]float64) {
	if lo == hi {
		lo -= 0.5
		hi += 0.5
	}
	delta := hi - lo
	step := delta / skyBins
	for i := range edges {
		if step == 0 {
			edges[i] = float64(float64(i)/skyBins*delta) + lo
		} else {
			edges[i] = float64(float64(i)*step) + lo
		}
	}
	edges[skyBins] = hi
}

// histBin is numpy.histogram's bin of x for uniform edges: ⌊(x−lo)·15/(hi−lo)⌋
// corrected by one against the edges, the last bin closed on the right.
// -1 when x is outside the outer edges [lo, hi]; hi−lo must be finite.
func histBin(x float64, edges *[skyBins + 1]float64, lo, hi, norm float64) int {
	if !(x >= lo && x <= hi) {
		return -1
	}
	i := int((x - lo) * norm)
	i = max(0, min(i, skyBins-1)) // also maps a NaN product (subnormal range) to 0, as a guard
	if i > 0 && x < edges[i] {
		i--
	}
	if i < skyBins-1 && x >= edges[i+1] {
		i++
	}
	return i
}

// HistogramBins tests whether the tail average falls into a sparsely
// populated bin of the series' histogram.
//
// The values are binned as numpy.histogram(x, bins=15): 15 equal-width
// bins over [min, max] (widened by ±0.5 for a constant series), each bin
// closed on the left and open on the right except the last, which is
// closed.
//
// Classic: for each bin j in order whose count c_j ≤ 20: if j = 0 it fires
// when T ≤ edge_0 (T at or below the minimum; a T inside bin 0 does not
// fire), else when edge_j ≤ T < edge_{j+1} (so a T equal to the maximum
// never fires). Ratio = 21/(c+0.5) for the firing bin's count c (> 1 iff
// c ≤ 20); when nothing fires, min(1, 21/(c_T+0.5)) with c_T the count of
// T's bin (0 outside the range). Raises on an empty series, a NaN/±Inf
// value (numpy: "autodetected range ... is not finite"), or max − min
// overflowing to +Inf (numpy: IndexError).
//
// Fixed: T's own bin (numpy's assignment; T outside the range has count 0)
// fires when its count c ≤ K, K = HistogramMaxCount or max(1, 20·n/8640).
// Ratio = (⌊K⌋+1)/(c+0.5). Fewer than 30 values (two per bin), NaN/±Inf
// values, or max − min overflowing give undefined.
func HistogramBins(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(histogramBins(t, v, now, o, s))
}

func histogramBins(_ []int64, v []float64, _ int64, o SkylineOptions, _ *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, o.Classic
	}
	lo, hi := v[0], v[0]
	bad := false
	for _, x := range v {
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
		if x != x {
			bad = true
		}
	}
	if bad || math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsInf(hi-lo, 0) {
		// numpy raises: a non-finite range, or (for a range wider than
		// float64 holds) an IndexError from a NaN bin index.
		return undefined, o.Classic
	}
	if !o.Classic && n < 2*skyBins {
		return undefined, false
	}
	var edges [skyBins + 1]float64
	histEdges(lo, hi, &edges)
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	norm := skyBins / (hi - lo)
	var counts [skyBins]int
	for _, x := range v {
		counts[histBin(x, &edges, lo, hi, norm)]++
	}
	tail := tailAvg(v)
	cT := 0
	if b := histBin(tail, &edges, lo, hi, norm); b >= 0 {
		cT = counts[b]
	}
	if o.Classic {
		for j, c := range counts {
			if c > 20 {
				continue
			}
			if (j == 0 && tail <= edges[0]) || (j > 0 && tail >= edges[j] && tail < edges[j+1]) {
				return yes(21 / (float64(c) + 0.5)), false
			}
		}
		return no(math.Min(1, 21/(float64(cT)+0.5))), false
	}
	k := o.HistogramMaxCount
	if k <= 0 {
		k = math.Max(1, 20*float64(n)/8640)
	}
	r := (math.Floor(k) + 1) / (float64(cT) + 0.5)
	if float64(cT) <= k {
		return yes(r), false
	}
	return no(r), false
}

// KSTest compares the distribution of the last ten minutes with the 50
// minutes before them, guarded by a stationarity test.
//
// With a reference point r: reference = values with r−3600 ≤ t < r−600,
// probe = values with t ≥ r−600. If either holds fewer than 20 values: No.
// Otherwise (D, p) = KS2Samp(reference, probe) (scipy's ks_2samp); when
// p < 0.05 and D > 0.5, the ADF test (ADFuller(reference, 10)) runs and the
// series is anomalous iff its p-value is < 0.05 (the reference is
// stationary, so the change is not a drift). Ratio = min(0.05/p, D/0.5,
// 0.05/p_adf) (the last term only when the ADF test ran), > 1 iff all three
// conditions hold. Uses Floats slots 0 and 1.
//
// Classic: r = now. Raises when the ADF test raises in statsmodels (fewer
// than 24 reference values: maxlag 10 needs n/2 − 2 ≥ 10) and on NaN in
// either window (where Etsy's histogram_bins raises anyway). A constant
// reference gives statsmodels 0.13 a NaN p-value, so No. With 60-second
// data the probe never has 20 points, so classic ks_test never fires.
// An exactly collinear ADF regression (ErrADFDegenerate, where statsmodels
// would return a pseudo-inverse answer) counts as not stationary.
//
// Fixed: r = t_n (now is not used); a constant reference gives No (as
// Skyline's successor does); any ADF error gives No; NaN gives undefined.
func KSTest(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) Outcome {
	return wrap(ksTest(t, v, now, o, s))
}

func ksTest(t []int64, v []float64, now int64, o SkylineOptions, s *Scratch) (Outcome, bool) {
	n := len(v)
	if n == 0 {
		return undefined, false
	}
	r := now
	if !o.Classic {
		r = t[n-1]
	}
	hourAgo, tenAgo := r-3600, r-600
	i0 := sort.Search(n, func(i int) bool { return t[i] >= hourAgo })
	i1 := sort.Search(n, func(i int) bool { return t[i] >= tenAgo })
	if i1 < i0 {
		i1 = i0
	}
	ref, probe := v[i0:i1], v[i1:]
	if len(ref) < 20 || len(probe) < 20 {
		return undefined, false
	}
	if hasNaN(ref) || hasNaN(probe) {
		return undefined, o.Classic
	}
	if !o.Classic {
		constant := true
		for _, x := range ref[1:] {
			if x != ref[0] {
				constant = false
				break
			}
		}
		if constant {
			return undefined, false
		}
	}
	d, p := KS2Samp(ref, probe, s.Floats(0, len(ref)+len(probe)))
	ratio := math.Min(0.05/p, d/0.5)
	if !(p < 0.05 && d > 0.5) {
		return no(math.Min(ratio, 1)), false
	}
	_, padf, _, err := ADFuller(ref, 10, s.Floats(1, (len(ref)+1)*13))
	if err != nil {
		if o.Classic && errors.Is(err, ErrADFTooShort) {
			return raised, true
		}
		return no(math.Min(ratio, 1)), false
	}
	ratio = math.Min(ratio, 0.05/padf)
	if padf < 0.05 {
		return yes(ratio), false
	}
	return no(math.Min(ratio, 1)), false
}

// ThreeSigma compares the tail average with the history before it.
//
// h = x_1..x_{n−3} (the values before the three the tail average covers),
// anomalous when |T − mean(h)| > 3·σ_1(h). Ratio = |T − mean(h)|/(3·σ_1(h)).
// n < 5 (fewer than two history points) or NaN values give undefined.
// σ_1(h) = 0 (a flat history): No with Ratio 0 when T equals the mean,
// otherwise Yes with Ratio +Inf (any change from a flat line fires). t and
// now are not used.
func ThreeSigma(t []int64, v []float64, now int64, s *Scratch) Outcome {
	n := len(v)
	if n < 5 {
		return undefined
	}
	h := v[:n-3]
	mean, sd := meanStd(h, 1)
	tail := tailAvg(v)
	dev := tail - mean
	if math.IsNaN(sd) || !isFinite(dev) || math.IsInf(sd, 0) {
		return undefined
	}
	if sd == 0 {
		if dev == 0 {
			return no(0)
		}
		return yes(math.Inf(1))
	}
	return vote3(dev, sd)
}
