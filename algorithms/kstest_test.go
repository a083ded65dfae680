package algorithms

import (
	"fmt"
	"math"
	"testing"
)

// TestKS2SampReference checks the KS statistic and p-value against
// scipy.stats.ks_2samp (testdata/skyline/ks.json): the statistic exactly,
// the exact-mode p-value to 1e-12 relative, the asymptotic one (samples
// over 10000) to the documented approximation where D < 0.5.
func TestKS2SampReference(t *testing.T) {
	var cases []struct {
		A []pyFloat `json:"a"`
		B []pyFloat `json:"b"`
		D pyFloat   `json:"d"`
		P pyFloat   `json:"p"`
	}
	loadTestdata(t, "ks.json", &cases)
	for i, c := range cases {
		a, b := floats(c.A), floats(c.B)
		t.Run(fmt.Sprintf("case%d_%dx%d", i, len(a), len(b)), func(t *testing.T) {
			d, p := KS2Samp(a, b, nil)
			if !sameFloat(d, float64(c.D)) {
				t.Errorf("D = %v, scipy %v", d, c.D)
			}
			tol := 1e-12
			if max(len(a), len(b)) > 10000 {
				tol = 1e-9
				if d < 0.5 {
					tol = 0.05 // Kolmogorov limit instead of scipy's kstwo
				}
			}
			// p-values are compared absolutely below 1e-300 to allow for
			// underflow differences.
			if !closeFloat(p, float64(c.P), tol) && math.Abs(p-float64(c.P)) > 1e-300 {
				t.Errorf("p = %v, scipy %v (rel %.3g)", p, c.P, math.Abs(p-float64(c.P))/float64(c.P))
			}
		})
	}
}

// TestKS2SampEmpty states the empty-sample answer (scipy raises).
func TestKS2SampEmpty(t *testing.T) {
	d, p := KS2Samp(nil, []float64{1}, nil)
	if !math.IsNaN(d) || !math.IsNaN(p) {
		t.Errorf("KS2Samp(empty) = %v, %v; want NaN, NaN", d, p)
	}
}
