package algorithms

import (
	"math"
	"slices"
)

// KS2Samp is the two-sided two-sample Kolmogorov–Smirnov test as scipy 1.10
// computes scipy.stats.ks_2samp(a, b) with its defaults
// (alternative='two-sided', method='auto').
//
// Statistic: with F_a, F_b the empirical CDFs (right-continuous),
// D = max over all sample values x of |F_a(x) − F_b(x)|, each F computed as
// count/n in float64 as numpy does.
//
// p-value: when max(n_a, n_b) ≤ 10000 the exact null distribution is used
// (method 'exact'): h = round(D·lcm(n_a, n_b)) (half to even),
// D is replaced by h/lcm (so the returned D is that rounded value, as in
// scipy), and p = P(D_{n_a,n_b} ≥ D) by Hodges' lattice-path counting
// (n_a = n_b: the closed alternating sum; otherwise the "inside" recursion
// for 1−p of Viehmann 2021). When the sizes are larger, or the exact
// recursion fails, scipy switches to the asymptotic form
// p = kstwo.sf(D, round(n_a·n_b/(n_a+n_b))); here that is exact for
// D ≥ 0.5 and for D·(1−D) regions scipy computes with Smirnov's formula
// (p = 2·smirnov(n, D)), and otherwise uses the Kolmogorov limit
// distribution, which can differ from scipy's kstwo in the third digit
// (documented deviation; Skyline's ks_test only acts on D > 0.5).
//
// a and b are not modified; buf is working memory of at least
// len(a)+len(b) elements (Floats slot 0 and 1 are good choices). Returns
// NaN, NaN when either sample is empty (scipy raises ValueError).
func KS2Samp(a, b, buf []float64) (d, p float64) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), math.NaN()
	}
	if cap(buf) < n1+n2 {
		buf = make([]float64, n1+n2)
	}
	buf = buf[:n1+n2]
	x, y := buf[:n1], buf[n1:]
	copy(x, a)
	copy(y, b)
	slices.Sort(x)
	slices.Sort(y)
	return ks2SampSorted(x, y)
}

// ks2SampSorted is KS2Samp on sorted, NaN-free samples.
func ks2SampSorted(x, y []float64) (d, p float64) {
	n1, n2 := len(x), len(y)
	fn1, fn2 := float64(n1), float64(n2)
	// cddiffs at every value of the concatenated data: F_x(v) − F_y(v)
	// with searchsorted(side='right'). The extrema over all values equal the
	// extrema over the distinct values, which a merge walk visits.
	maxS, minS := math.Inf(-1), math.Inf(1)
	i, j := 0, 0
	for i < n1 || j < n2 {
		var v float64
		switch {
		case j >= n2 || (i < n1 && x[i] <= y[j]):
			v = x[i]
		default:
			v = y[j]
		}
		for i < n1 && x[i] <= v {
			i++
		}
		for j < n2 && y[j] <= v {
			j++
		}
		diff := float64(i)/fn1 - float64(j)/fn2
		if diff > maxS {
			maxS = diff
		}
		if diff < minS {
			minS = diff
		}
	}
	minS = math.Min(math.Max(-minS, 0), 1)
	d = maxS
	if minS > maxS {
		d = minS
	}
	g := gcd(n1, n2)
	if max(n1, n2) <= 10000 {
		if dd, pp, ok := ksExact2(n1, n2, g, d); ok {
			return dd, clip01(pp)
		} else {
			d = dd
		}
	}
	m, n := max(fn1, fn2), min(fn1, fn2)
	en := math.RoundToEven(m * n / (m + n))
	return d, clip01(kstwoSF(d, en))
}

func clip01(p float64) float64 { return math.Min(math.Max(p, 0), 1) }

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksExact2 is scipy's _attempt_exact_2kssamp for the two-sided case.
func ksExact2(n1, n2, g int, d float64) (float64, float64, bool) {
	lcm := (n1 / g) * n2
	h := int(math.RoundToEven(d * float64(lcm)))
	d = float64(h) * 1.0 / float64(lcm)
	if h == 0 {
		return d, 1, true
	}
	var p float64
	if n1 == n2 {
		p = ksProbOutsideSquare(n1, h)
	} else {
		p = ksOuterProbInside(n1, n2, g, h)
	}
	if math.IsInf(p, 0) || !(p >= 0 && p <= 1) {
		return d, p, false
	}
	return d, p, true
}

// ksProbOutsideSquare is P(D_{n,n} ≥ h/n) = 2·Σ_k (−1)^(k+1) C(2n, n−kh)/C(2n, n),
// evaluated in Horner form as scipy's _compute_prob_outside_square.
func ksProbOutsideSquare(n, h int) float64 {
	p := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(float64(n-k*h-j)*p1) / float64(n+k*h+j+1)
		}
		p = float64(p1 * (1.0 - p))
	}
	return 2 * p
}

// ksOuterProbInside is scipy's _compute_outer_prob_inside_method: the
// proportion of lattice paths from (0,0) to (m,n) that leave the band
// |x/m − y/n| < h/lcm, by the recursion for 1−p (Viehmann 2021), keeping
// one sliding column.
func ksOuterProbInside(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(ceilDiv(h, mg), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	// Small stack buffer for the common sizes; larger ones allocate (rare:
	// only the ks_test path after a KS rejection).
	var stack [1024]float64
	var a []float64
	if lenA <= len(stack) {
		a = stack[:lenA]
	} else {
		a = make([]float64, lenA)
	}
	for i := range a {
		a[i] = 1
	}
	for i := minj; i < maxj && i < lenA; i++ {
		a[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(floorDiv(ng*i-h, mg)+1, 0)
		minj = min(minj, n)
		maxj = min(ceilDiv(ng*i+h, mg), n+1)
		if maxj <= minj {
			return 1.0
		}
		val := 0.0
		if minj != 0 {
			val = 1.0
		}
		fi := float64(i)
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			val = (float64(a[jj+minj-lastminj]*fi) + float64(val*float64(j))) / float64(i+j)
			a[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen) && k < lenA; k++ {
				a[k] = 1
			}
		}
	}
	return a[maxj-minj-1]
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

// kstwoSF approximates scipy's kstwo.sf(d, n), the survival function of the
// one-sample two-sided KS statistic for n observations, following scipy's
// _kolmogn case split: exact closed forms near the ends (Ruben–Gambino),
// 2·smirnov(n, d) where scipy uses it (d ≥ 0.5, or n·d² ≥ 2.2 for n > 140,
// or n·d² > 4 for n ≤ 140), and the Kolmogorov limit distribution
// (with Stephens' √n + 0.12 + 0.11/√n correction) elsewhere, where scipy
// uses the Durbin matrix or Pomeranz recursions.
func kstwoSF(d, n float64) float64 {
	if math.IsNaN(d) || math.IsNaN(n) || n <= 0 {
		return math.NaN()
	}
	if d >= 1 {
		return 0
	}
	if d <= 0 {
		return 1
	}
	t := n * d
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		// P(D ≤ d) = n!/n^n (2t−1)^n.
		lg, _ := math.Lgamma(n + 1)
		return 1 - math.Exp(lg-n*math.Log(n)+n*math.Log(2*t-1))
	}
	if t >= n-1 {
		return 2 * math.Pow(1-d, n)
	}
	nx2 := t * d
	switch {
	case d >= 0.5:
		return 2 * smirnov(int(n), d)
	case n <= 140 && nx2 > 4:
		return 2 * smirnov(int(n), d)
	case n > 140 && nx2 >= 370:
		return 0
	case n > 140 && nx2 >= 2.2:
		return 2 * smirnov(int(n), d)
	}
	sn := math.Sqrt(n)
	return kolmogorovSF((sn + 0.12 + 0.11/sn) * d)
}

// smirnov is the exact one-sided one-sample KS survival function
// P(D⁺_n ≥ d) by the Birnbaum–Tingey sum
// d·Σ_{j=0}^{⌊n(1−d)⌋} C(n,j) (1−d−j/n)^(n−j) (d+j/n)^(j−1), in logs.
func smirnov(n int, d float64) float64 {
	if d <= 0 {
		return 1
	}
	if d >= 1 {
		return 0
	}
	fn := float64(n)
	jmax := int(math.Floor(fn * (1 - d)))
	lgn, _ := math.Lgamma(fn + 1)
	sum := 0.0
	for j := 0; j <= jmax; j++ {
		fj := float64(j)
		a := 1 - d - fj/fn
		b := d + fj/fn
		if a <= 0 {
			if j == n {
				continue
			}
			if a < 0 {
				break
			}
		}
		lgj, _ := math.Lgamma(fj + 1)
		lgnj, _ := math.Lgamma(fn - fj + 1)
		lt := lgn - lgj - lgnj + (fn-fj)*math.Log(a) + (fj-1)*math.Log(b)
		sum += math.Exp(lt)
	}
	return d * sum
}

// kolmogorovSF is the limiting Kolmogorov survival function
// Q(x) = 2 Σ_{k≥1} (−1)^(k−1) exp(−2k²x²).
func kolmogorovSF(x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x < 0.27 {
		return 1
	}
	s := 0.0
	for k := 1; k <= 100; k++ {
		fk := float64(k)
		term := math.Exp(-2 * fk * fk * x * x)
		if k%2 == 1 {
			s += term
		} else {
			s -= term
		}
		if term < 1e-17 {
			break
		}
	}
	return math.Min(1, 2*s)
}
