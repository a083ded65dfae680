package algorithms

import (
	"testing"

	"github.com/go-kale/kale/internal/parity"
)

// benchSeries is metric 7 of the shared day corpus's recipe (8640 points
// at 10 s: daily bump, trend, noise, spikes), the Analyzer's typical input.
func benchSeries(tb testing.TB) ([]int64, []float64, int64) {
	p := parity.NewParams(1000, 8640, 10, 42)
	v := parity.GenerateMetric(nil, p, 7)
	t := make([]int64, len(v))
	for i := range t {
		t[i] = p.T0 + int64(i)*p.Step
	}
	return t, v, t[len(t)-1]
}

// benchDetector measures one detector on benchSeries; SetBytes counts the
// 16 bytes of each (timestamp, value) point.
func benchDetector(b *testing.B, f SkylineDetector, o SkylineOptions) {
	t, v, now := benchSeries(b)
	var s Scratch
	f(t, v, now, o, &s) // grow the scratch buffers
	b.SetBytes(int64(16 * len(v)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f(t, v, now, o, &s)
	}
}

func BenchmarkSkylineDetectors(b *testing.B) {
	for _, classic := range []bool{true, false} {
		form := "fixed"
		if classic {
			form = "classic"
		}
		o := SkylineOptions{Classic: classic, FullDuration: 86400}
		for i, f := range SkylineDetectors {
			b.Run(form+"/"+SkylineNames[i], func(b *testing.B) { benchDetector(b, f, o) })
		}
	}
}

// BenchmarkClassicAll is the classic profile's cost per metric: all nine
// detectors on one 8640-point series (target ≤ 500 µs).
func BenchmarkClassicAll(b *testing.B) {
	benchAll(b, SkylineOptions{Classic: true, FullDuration: 86400})
}

// BenchmarkFixedAll is the same for the fixed forms.
func BenchmarkFixedAll(b *testing.B) {
	benchAll(b, SkylineOptions{FullDuration: 86400})
}

func benchAll(b *testing.B, o SkylineOptions) {
	t, v, now := benchSeries(b)
	var s Scratch
	var out [9]Outcome
	_ = SkylineRun(t, v, now, o, &s, &out)
	b.SetBytes(int64(16 * len(v)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = SkylineRun(t, v, now, o, &s, &out)
	}
}

// BenchmarkKSTestADF is ks_test's worst case: a shifted last ten minutes of
// 10-second data, so the KS test rejects and the ADF test runs.
func BenchmarkKSTestADF(b *testing.B) {
	t, v := series(8640, 10, 10, 1, 0, 0, 5)
	for i := len(v) - 60; i < len(v); i++ {
		v[i] += 5
	}
	now := t[len(t)-1]
	var s Scratch
	o := SkylineOptions{Classic: true}
	if oc := KSTest(t, v, now, o, &s); oc.Vote != Yes {
		b.Fatalf("KSTest = %v, want a rejection that runs the ADF test", oc)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		KSTest(t, v, now, o, &s)
	}
}

func BenchmarkThreeSigma(b *testing.B) {
	t, v, now := benchSeries(b)
	var s Scratch
	b.SetBytes(int64(16 * len(v)))
	b.ReportAllocs()
	for b.Loop() {
		ThreeSigma(t, v, now, &s)
	}
}

// BenchmarkMedian is the median of 8640 values.
func BenchmarkMedian(b *testing.B) {
	_, v, _ := benchSeries(b)
	buf := make([]float64, len(v))
	b.SetBytes(int64(8 * len(v)))
	b.ReportAllocs()
	for b.Loop() {
		Median(v, buf)
	}
}
