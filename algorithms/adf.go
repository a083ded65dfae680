package algorithms

import "math"

// ADFuller is the augmented Dickey–Fuller unit-root test as statsmodels
// 0.13 computes adfuller(x, maxlag) with regression='c' and autolag='AIC'.
//
// With Δx_t = x_t − x_{t−1}, the regression is
//
//	Δx_t = c + γ·x_{t−1} + Σ_{j=1..p} β_j·Δx_{t−j} + ε_t
//
// and stat is the OLS t-value of γ. The lag p is chosen by AIC among
// 0..maxlag, all candidate regressions fitted on the same nobs = n−1−maxlag
// rows (AIC = nobs·(ln(2π·SSR/nobs) + 1) + 2·(p+2); ties go to the smaller
// p); then the chosen regression is refitted on all n−1−p available rows.
// pValue is MacKinnon's (1994) approximate p-value for one series with a
// constant: 1 above 2.74, 0 below −18.83, else Φ(polynomial in stat) with
// the small-p (stat ≤ −1.61) or large-p coefficients of statsmodels'
// tables. The least squares use Householder QR rather than statsmodels'
// pseudo-inverse; results agree to rounding on well-conditioned data.
//
// buf is working memory of at least (n+1)·(maxlag+3) elements; ADFuller
// allocates only if it is shorter.
func ADFuller(x []float64, maxlag int, buf []float64) (stat, pValue float64, usedLag int, err error) {
	n := len(x)
	if maxlag < 0 || maxlag > n/2-2 {
		return math.NaN(), math.NaN(), 0, ErrADFTooShort
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.NaN(), math.NaN(), 0, ErrADFNotFinite
		}
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	if lo == hi {
		return math.NaN(), math.NaN(), 0, ErrADFConstant
	}
	need := (n + 1) * (maxlag + 3)
	if cap(buf) < need {
		buf = make([]float64, need)
	}
	buf = buf[:need]

	// Autolag: columns [const, level, lag 1..maxlag], response last, on
	// nobs rows; one QR gives every prefix regression's SSR.
	nobs := n - 1 - maxlag
	k := maxlag + 2
	a := buf[:nobs*(k+1)]
	for r := 0; r < nobs; r++ {
		t := r + maxlag // index into the differences
		a[r] = 1
		a[nobs+r] = x[t]
		for j := 1; j <= maxlag; j++ {
			a[(j+1)*nobs+r] = x[t-j+1] - x[t-j]
		}
		a[k*nobs+r] = x[t+1] - x[t]
	}
	for c := 1; c < k; c++ {
		if adfConstantNonZero(a[c*nobs : (c+1)*nobs]) {
			return math.NaN(), math.NaN(), 0, ErrADFDegenerate
		}
	}
	if !householderQR(a, nobs, k) {
		return math.NaN(), math.NaN(), 0, ErrADFDegenerate
	}
	qy := a[k*nobs : (k+1)*nobs]
	bestAIC, best := math.Inf(1), -1
	fn := float64(nobs)
	for cols := 2; cols <= k; cols++ {
		ssr := 0.0
		for i := cols; i < nobs; i++ {
			ssr += float64(qy[i] * qy[i])
		}
		aic := -2*adfLLF(ssr, fn) + 2*float64(cols)
		if aic < bestAIC || best < 0 {
			bestAIC, best = aic, cols
		}
	}
	p := best - 2

	// Final regression with p lags on all usable rows; columns
	// [const, lag 1..p, level] so that γ is the last coefficient.
	nobs = n - 1 - p
	k = p + 2
	a = buf[:nobs*(k+1)]
	for r := 0; r < nobs; r++ {
		t := r + p
		a[r] = 1
		for j := 1; j <= p; j++ {
			a[j*nobs+r] = x[t-j+1] - x[t-j]
		}
		a[(k-1)*nobs+r] = x[t]
		a[k*nobs+r] = x[t+1] - x[t]
	}
	for c := 1; c < k; c++ {
		if adfConstantNonZero(a[c*nobs : (c+1)*nobs]) {
			return math.NaN(), math.NaN(), 0, ErrADFDegenerate
		}
	}
	if !householderQR(a, nobs, k) || nobs <= k {
		return math.NaN(), math.NaN(), 0, ErrADFDegenerate
	}
	qy = a[k*nobs : (k+1)*nobs]
	ssr := 0.0
	for i := k; i < nobs; i++ {
		ssr += float64(qy[i] * qy[i])
	}
	s := math.Sqrt(ssr / float64(nobs-k))
	rkk := a[(k-1)*nobs+k-1]
	stat = qy[k-1] / s
	if rkk < 0 {
		stat = -stat
	}
	return stat, MacKinnonP(stat), p, nil
}

// adfLLF is statsmodels' OLS log-likelihood from the residual sum of
// squares: −(n/2)·ln SSR − (1 + ln(π/(n/2)))·n/2.
func adfLLF(ssr, nobs float64) float64 {
	n2 := nobs / 2
	llf := -math.Log(ssr) * n2
	llf -= (1 + math.Log(math.Pi/n2)) * n2
	return llf
}

// adfConstantNonZero reports a column statsmodels' add_trend would treat as
// an existing constant (peak-to-peak 0, not all zero).
func adfConstantNonZero(col []float64) bool {
	for _, v := range col[1:] {
		if v != col[0] {
			return false
		}
	}
	return col[0] != 0
}

// householderQR factors the column-major nrow×k matrix in a (followed by a
// right-hand-side column) in place: on return the upper triangle of the
// first k columns is R and the extra column holds Qᵀy. It reports false
// when a column is (numerically) dependent on the previous ones.
func householderQR(a []float64, nrow, k int) bool {
	if nrow < k {
		return false
	}
	for c := 0; c < k; c++ {
		col := a[c*nrow+c : (c+1)*nrow]
		// Scale-safe norm of the column below the diagonal.
		scale := 0.0
		for _, v := range col {
			scale = math.Max(scale, math.Abs(v))
		}
		orig := 0.0
		for _, v := range a[c*nrow : (c+1)*nrow] {
			orig = math.Max(orig, math.Abs(v))
		}
		if scale == 0 || scale <= 1e-13*orig {
			return false
		}
		ss := 0.0
		for _, v := range col {
			w := v / scale
			ss += float64(w * w)
		}
		norm := scale * math.Sqrt(ss)
		alpha := -norm
		if col[0] < 0 {
			alpha = norm
		}
		col[0] -= alpha
		vnorm2 := 0.0
		for _, v := range col {
			vnorm2 += float64(v * v)
		}
		for j := c + 1; j <= k; j++ {
			cj := a[j*nrow+c : (j+1)*nrow]
			dot := 0.0
			for i, v := range col {
				dot += float64(v * cj[i])
			}
			f := 2 * dot / vnorm2
			for i, v := range col {
				cj[i] -= float64(f * v)
			}
		}
		col[0] = alpha
		// The rest of the column now holds v's tail; zero it for clarity
		// (it is not used again).
		for i := 1; i < len(col); i++ {
			col[i] = 0
		}
	}
	return true
}

// MacKinnon (1994) p-value coefficients for the tau statistic, one series,
// constant only (statsmodels tsa/adfvalues.py, N=1, regression "c"; the
// scaled values as statsmodels stores them).
var (
	adfTauMaxC   = 2.74
	adfTauMinC   = -18.83
	adfTauStarC  = -1.61
	adfTauSmallC = [3]float64{2.1659, 1.4412, 0.038269000000000004}
	adfTauLargeC = [4]float64{1.7339, 0.9320200000000001, -0.12745, -0.010368}
)

// MacKinnonP is MacKinnon's approximate asymptotic p-value of an ADF
// statistic for one series with a constant (statsmodels' mackinnonp(stat,
// regression="c", N=1)): 1 when stat > 2.74, 0 when stat < −18.83, else
// Φ(Σ c_i·statⁱ) with the small-p coefficients when stat ≤ −1.61 and the
// large-p ones otherwise. NaN for NaN.
func MacKinnonP(stat float64) float64 {
	if math.IsNaN(stat) {
		return math.NaN()
	}
	if stat > adfTauMaxC {
		return 1
	}
	if stat < adfTauMinC {
		return 0
	}
	var y float64
	if stat <= adfTauStarC {
		c := adfTauSmallC
		y = float64(c[2]*stat) + c[1]
		y = float64(y*stat) + c[0]
	} else {
		c := adfTauLargeC
		y = float64(c[3]*stat) + c[2]
		y = float64(y*stat) + c[1]
		y = float64(y*stat) + c[0]
	}
	return normCDF(y)
}

// normCDF is the standard normal CDF the way cephes' ndtr evaluates it.
func normCDF(a float64) float64 {
	x := a * math.Sqrt2 / 2
	z := math.Abs(x)
	if z < math.Sqrt2/2 {
		return 0.5 + 0.5*math.Erf(x)
	}
	y := 0.5 * math.Erfc(z)
	if x > 0 {
		y = 1 - y
	}
	return y
}
