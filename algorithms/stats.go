package algorithms

import (
	"math"
	"math/bits"
	"slices"
)

// This file holds the descriptive statistics the detectors share. Each one
// reproduces, operation for operation, the numpy 1.24 / pandas 1.5 routine
// Etsy's Skyline called, so that the classic detectors decide exactly as the
// Python did, including on ties with a threshold:
//
//   - sums are numpy's pairwise summation (blocks of 128 with eight
//     accumulators, split in halves rounded to a multiple of 8 above that)
//     over chunks of 8192 elements (numpy's buffer size), the chunk sums
//     added in order;
//   - means divide that sum by the count;
//   - variances are two-pass: the pairwise sum of squared deviations from
//     the mean, divided by n - ddof;
//   - medians are exact order statistics, the mean of the two middle values
//     for an even count;
//   - exponentially weighted moments follow pandas' ewm recurrences.

// pwBlock is numpy's PW_BLOCKSIZE.
const pwBlock = 128

// npBuf is numpy's default ufunc buffer size: a reduction over a longer
// array runs the pairwise inner loop on successive chunks of this many
// elements and adds the chunk sums left to right.
const npBuf = 8192

// pwSum is the value np.sum (and thus np.mean, pandas' Series.mean and
// .sum) computes for a contiguous float64 array: numpy's pairwise sum of
// each 8192-element chunk, the chunk sums added in order.
func pwSum(a []float64) float64 {
	if len(a) <= npBuf {
		return pwSumBlock(a)
	}
	res := 0.0
	for len(a) > 0 {
		k := min(len(a), npBuf)
		res += pwSumBlock(a[:k])
		a = a[k:]
	}
	return res
}

// pwSumSqDev is the np.sum of the array of squared deviations (a[i]−m)²,
// chunked as pwSum.
func pwSumSqDev(a []float64, m float64) float64 {
	if len(a) <= npBuf {
		return pwSumSqDevBlock(a, m)
	}
	res := 0.0
	for len(a) > 0 {
		k := min(len(a), npBuf)
		res += pwSumSqDevBlock(a[:k], m)
		a = a[k:]
	}
	return res
}

// pwSumBlock is numpy's pairwise_sum for float64.
func pwSumBlock(a []float64) float64 {
	n := len(a)
	if n < 8 {
		res := 0.0
		for _, x := range a {
			res += x
		}
		return res
	}
	if n <= pwBlock {
		r0, r1, r2, r3 := a[0], a[1], a[2], a[3]
		r4, r5, r6, r7 := a[4], a[5], a[6], a[7]
		i := 8
		for end := n - n%8; i < end; i += 8 {
			b := a[i : i+8 : i+8]
			r0 += b[0]
			r1 += b[1]
			r2 += b[2]
			r3 += b[3]
			r4 += b[4]
			r5 += b[5]
			r6 += b[6]
			r7 += b[7]
		}
		res := ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pwSumBlock(a[:n2]) + pwSumBlock(a[n2:])
}

// pwSumSqDevBlock is pairwise_sum of the squared deviations (a[i]−m)².
func pwSumSqDevBlock(a []float64, m float64) float64 {
	n := len(a)
	if n < 8 {
		res := 0.0
		for _, x := range a {
			d := x - m
			res += float64(d * d)
		}
		return res
	}
	if n <= pwBlock {
		sq := func(x float64) float64 { d := x - m; return float64(d * d) }
		r0, r1, r2, r3 := sq(a[0]), sq(a[1]), sq(a[2]), sq(a[3])
		r4, r5, r6, r7 := sq(a[4]), sq(a[5]), sq(a[6]), sq(a[7])
		i := 8
		for end := n - n%8; i < end; i += 8 {
			b := a[i : i+8 : i+8]
			d0, d1, d2, d3 := b[0]-m, b[1]-m, b[2]-m, b[3]-m
			d4, d5, d6, d7 := b[4]-m, b[5]-m, b[6]-m, b[7]-m
			r0 += float64(d0 * d0)
			r1 += float64(d1 * d1)
			r2 += float64(d2 * d2)
			r3 += float64(d3 * d3)
			r4 += float64(d4 * d4)
			r5 += float64(d5 * d5)
			r6 += float64(d6 * d6)
			r7 += float64(d7 * d7)
		}
		res := ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
		for ; i < n; i++ {
			d := a[i] - m
			res += float64(d * d)
		}
		return res
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pwSumSqDevBlock(a[:n2], m) + pwSumSqDevBlock(a[n2:], m)
}

// Mean is the arithmetic mean of v as numpy.mean and pandas' Series.mean
// compute it: the pairwise sum of v divided by len(v). NaN for an empty v;
// a NaN in v gives NaN (no skipping).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return pwSum(v) / float64(len(v))
}

// Std is the standard deviation of v with ddof delta degrees of freedom:
// sqrt(Σ(v_i − mean)² / (n − ddof)), two-pass with pairwise sums, as
// numpy.std(v, ddof=ddof) (numpy's default ddof is 0) and pandas'
// Series.std (default ddof 1). NaN when n − ddof ≤ 0 (pandas' answer;
// numpy also gives NaN or Inf there) or when v holds a NaN.
func Std(v []float64, ddof int) float64 {
	n := len(v)
	if n-ddof <= 0 {
		return math.NaN()
	}
	m := pwSum(v) / float64(n)
	return math.Sqrt(pwSumSqDev(v, m) / float64(n-ddof))
}

// meanStd returns Mean(v) and Std(v, ddof) with one mean computation.
func meanStd(v []float64, ddof int) (mean, std float64) {
	n := len(v)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	mean = pwSum(v) / float64(n)
	if n-ddof <= 0 {
		return mean, math.NaN()
	}
	return mean, math.Sqrt(pwSumSqDev(v, mean) / float64(n-ddof))
}

// Median is the median of the non-NaN values of v, as pandas'
// Series.median (skipna) computes it: the middle order statistic, or the
// mean (a+b)/2 of the two middle ones for an even count. NaN when v holds
// no non-NaN value. v is not modified. buf is working memory of at least
// len(v) elements (its contents are overwritten; Median allocates only if
// buf is too short). It runs in expected O(n) (quickselect with a
// median-of-three pivot, falling back to an O(n log n) sort on adversarial
// input).
func Median(v, buf []float64) float64 {
	if cap(buf) < len(v) {
		buf = make([]float64, len(v))
	}
	buf = buf[:0]
	for _, x := range v {
		if x == x {
			buf = append(buf, x)
		}
	}
	return medianInPlace(buf)
}

// medianInPlace is Median of a NaN-free a, reordering a.
func medianInPlace(a []float64) float64 {
	n := len(a)
	if n == 0 {
		return math.NaN()
	}
	k := n / 2
	hi := quickselect(a, k)
	if n%2 == 1 {
		return hi
	}
	// After selection, a[:k] holds the k smallest values: the lower middle
	// value is their maximum.
	lo := a[0]
	for _, x := range a[1:k] {
		if x > lo {
			lo = x
		}
	}
	return (lo + hi) / 2
}

// quickselect reorders the NaN-free a so that a[k] is the k-th smallest
// value (0-based), a[:k] <= a[k] <= a[k+1:], and returns a[k].
func quickselect(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	budget := 4 * bits.Len(uint(len(a)))
	for hi > lo {
		if budget == 0 {
			slices.Sort(a[lo : hi+1])
			return a[k]
		}
		budget--
		if hi-lo < 16 {
			// Insertion sort for short ranges.
			for i := lo + 1; i <= hi; i++ {
				x := a[i]
				j := i - 1
				for j >= lo && a[j] > x {
					a[j+1] = a[j]
					j--
				}
				a[j+1] = x
			}
			return a[k]
		}
		// Median of three as pivot, placed at lo.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		a[lo], a[mid] = a[mid], a[lo]
		p := a[lo]
		// Hoare partition.
		i, j := lo, hi+1
		for {
			for i++; i <= hi && a[i] < p; i++ {
			}
			for j--; a[j] > p; j-- {
			}
			if i >= j {
				break
			}
			a[i], a[j] = a[j], a[i]
		}
		a[lo], a[j] = a[j], a[lo]
		switch {
		case j == k:
			return a[k]
		case j < k:
			lo = j + 1
		default:
			hi = j - 1
		}
	}
	return a[k]
}

// EWMMeanStd returns the last values of pandas 1.5's
// Series.ewm(com=com).mean() and Series.ewm(com=com).std(bias=False) (the
// defaults adjust=True, ignore_na=False, min_periods=0), in one pass.
//
// With α = 1/(1+com) and f = 1−α, the weight of x_j at step i is f^(i−j)
// (bias-adjusted: the mean divides by the weight sum). pandas' recurrence,
// reproduced operation for operation, is, per observation x_i (i ≥ 1):
//
//	w ← w·f;  S ← S·f;  S2 ← S2·f²
//	m' = (w·m + x_i)/(w + 1)        (skipped when m = x_i: no rounding drift)
//	c  = (w·(c + (m−m')²) + (x_i−m')²)/(w + 1)
//	w ← w+1; S ← S+1; S2 ← S2+1;  m ← m'
//
// starting from m = x_0, c = 0, w = S = S2 = 1. The unbiased variance is
// c·S²/(S² − S2) (NaN when S² − S2 ≤ 0, so for a single observation) and
// std its square root (a negative variance is taken as 0). A NaN value is
// skipped but still decays the weights, as pandas does with ignore_na=False.
// Both results are NaN for an empty or all-NaN v.
func EWMMeanStd(v []float64, com float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	alpha := 1. / (1. + com)
	f := 1. - alpha
	f2 := float64(f * f)
	const newWt = 1.
	m := v[0]
	nobs := 0
	if m == m {
		nobs = 1
	}
	cov, sumWt, sumWt2, oldWt := 0., 1., 1., 1.
	for _, x := range v[1:] {
		obs := x == x
		if obs {
			nobs++
		}
		if m == m {
			sumWt = float64(sumWt * f)
			sumWt2 = float64(sumWt2 * f2)
			oldWt = float64(oldWt * f)
			if obs {
				old := m
				if m != x {
					m = (float64(oldWt*old) + float64(newWt*x)) / (oldWt + newWt)
				}
				d0 := old - m
				d1 := x - m
				cov = (float64(oldWt*(cov+float64(d0*d0))) + float64(newWt*float64(d1*d1))) / (oldWt + newWt)
				sumWt += newWt
				sumWt2 += float64(newWt * newWt)
				oldWt += newWt
			}
		} else if obs {
			m = x
		}
	}
	if nobs == 0 {
		return math.NaN(), math.NaN()
	}
	if len(v) == 1 {
		return m, math.NaN()
	}
	num := float64(sumWt * sumWt)
	den := num - sumWt2
	if !(den > 0) {
		return m, math.NaN()
	}
	variance := float64((num / den) * cov)
	if variance < 0 {
		return m, 0
	}
	return m, math.Sqrt(variance)
}

// tailAvg is Etsy's tail_avg of the values: (x_n + x_{n−1} + x_{n−2})/3
// evaluated left to right as Python does, or x_n when there are fewer than
// three values. len(v) must be at least 1.
func tailAvg(v []float64) float64 {
	n := len(v)
	if n < 3 {
		return v[n-1]
	}
	return (v[n-1] + v[n-2] + v[n-3]) / 3
}
