package algorithms

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ccJSONFloat decodes a float that ref.py may write as "+Inf"/"-Inf".
type ccJSONFloat float64

func (f *ccJSONFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		x, err := strconv.ParseFloat(s, 64)
		*f = ccJSONFloat(x)
		return err
	}
	var x float64
	err := json.Unmarshal(b, &x)
	*f = ccJSONFloat(x)
	return err
}

// ccRefCase is one case of testdata/controlchart/cases.json, written by
// testdata/controlchart/ref.py (independent numpy implementation).
type ccRefCase struct {
	Name string     `json:"name"`
	V    []*float64 `json:"v"` // null = NaN
	EWMA *struct {
		Mu, Sigma, Ratio ccJSONFloat
	} `json:"ewma"`
	CUSUM *struct {
		Mu, Sigma, Ratio ccJSONFloat
	} `json:"cusum"`
	WE *struct {
		Mu, Sigma, Ratio ccJSONFloat
		Rules            [4]bool
	} `json:"western_electric"`
}

// ccOutcome is the expected Outcome for a reference ratio (nil: undefined).
func ccOutcome(ok bool, ratio ccJSONFloat) Outcome {
	if !ok {
		return undefined
	}
	if ratio > 1 {
		return yes(float64(ratio))
	}
	return no(float64(ratio))
}

func TestControlChartsReference(t *testing.T) {
	b, err := os.ReadFile("testdata/controlchart/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []ccRefCase }
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	opts := cmp.Options{cmpopts.EquateApprox(1e-9, 1e-12), cmpopts.EquateNaNs()}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			v := hwValues(c.V)
			tt := make([]int64, len(v))
			for i := range tt {
				tt[i] = int64(60 * i)
			}
			s := new(Scratch)
			check := func(name string, got Outcome, ok bool, ratio ccJSONFloat, w int, mu, sigma ccJSONFloat) {
				t.Helper()
				if diff := cmp.Diff(ccOutcome(ok, ratio), got, opts); diff != "" {
					t.Errorf("%s outcome (-want +got):\n%s", name, diff)
				}
				if !ok {
					return
				}
				gm, gs, _ := ccBaseline(v, w)
				if diff := cmp.Diff([2]float64{float64(mu), float64(sigma)}, [2]float64{gm, gs}, opts); diff != "" {
					t.Errorf("%s baseline μ, σ (-want +got):\n%s", name, diff)
				}
			}
			e, cu, we := c.EWMA, c.CUSUM, c.WE
			if e == nil {
				check("ewma", EWMAChart(tt, v, 0, s, EWMAOptions{}), false, 0, 0, 0, 0)
			} else {
				check("ewma", EWMAChart(tt, v, 0, s, EWMAOptions{}), true, e.Ratio, DefaultEWMAWindow, e.Mu, e.Sigma)
			}
			if cu == nil {
				check("cusum", CUSUM(tt, v, 0, s, CUSUMOptions{}), false, 0, 0, 0, 0)
			} else {
				check("cusum", CUSUM(tt, v, 0, s, CUSUMOptions{}), true, cu.Ratio, DefaultCUSUMWindow, cu.Mu, cu.Sigma)
			}
			if we == nil {
				check("western electric", WesternElectric(tt, v, 0, s, WesternElectricOptions{}), false, 0, 0, 0, 0)
				return
			}
			check("western electric", WesternElectric(tt, v, 0, s, WesternElectricOptions{}), true, we.Ratio,
				DefaultWesternElectricSpan, we.Mu, we.Sigma)
			mu, sigma, _ := ccBaseline(v, DefaultWesternElectricSpan)
			q := ccWERules(v[len(v)-DefaultWesternElectricSpan:], mu, sigma)
			fired := [4]bool{q[0] > 1, q[1] > 1, q[2] > 1, q[3] > 1}
			if fired != we.Rules {
				t.Errorf("rules fired %v, want %v (ratios %v)", fired, we.Rules, q)
			}
		})
	}
}

func TestControlChartsDegenerate(t *testing.T) {
	nan := math.NaN()
	none := Outcome{Vote: None, Ratio: nan}
	tt := make([]int64, 40)
	v := make([]float64, 40)
	for i := range v {
		tt[i] = int64(i)
		v[i] = float64(i % 3)
	}
	newestNaN := append([]float64(nil), v...)
	newestNaN[39] = nan
	allNaNBase := append([]float64(nil), v...)
	for i := range 30 {
		allNaNBase[i] = nan
	}
	type chart func(t []int64, v []float64) Outcome
	ewma := func(o EWMAOptions) chart {
		return func(t []int64, v []float64) Outcome { return EWMAChart(t, v, 0, nil, o) }
	}
	cusum := func(o CUSUMOptions) chart {
		return func(t []int64, v []float64) Outcome { return CUSUM(t, v, 0, nil, o) }
	}
	we := func(o WesternElectricOptions) chart {
		return func(t []int64, v []float64) Outcome { return WesternElectric(t, v, 0, nil, o) }
	}
	for _, c := range []struct {
		name string
		f    chart
		t    []int64
		v    []float64
		want Outcome
	}{
		{"ewma length mismatch", ewma(EWMAOptions{}), tt[:3], v, none},
		{"ewma lambda > 1", ewma(EWMAOptions{Lambda: 1.5}), tt, v, none},
		{"ewma negative L", ewma(EWMAOptions{L: -3}), tt, v, none},
		{"ewma negative window", ewma(EWMAOptions{Window: -1}), tt, v, none},
		{"ewma newest NaN", ewma(EWMAOptions{}), tt, newestNaN, undefined},
		{"ewma baseline all NaN", ewma(EWMAOptions{}), tt, allNaNBase, undefined},
		{"ewma window covers series", ewma(EWMAOptions{Window: 40}), tt, v, undefined},
		{"ewma empty", ewma(EWMAOptions{}), nil, nil, undefined},
		{"cusum NaN h", cusum(CUSUMOptions{H: nan}), tt, v, none},
		{"cusum negative k", cusum(CUSUMOptions{K: -1}), tt, v, none},
		{"cusum newest NaN", cusum(CUSUMOptions{}), tt, newestNaN, undefined},
		{"cusum too short", cusum(CUSUMOptions{}), tt[:25], v[:25], undefined},
		{"we window 7", we(WesternElectricOptions{Window: 7}), tt, v, none},
		{"we newest NaN", we(WesternElectricOptions{}), tt, newestNaN, undefined},
		{"we length mismatch", we(WesternElectricOptions{}), tt, v[:5], none},
	} {
		if diff := cmp.Diff(c.want, c.f(c.t, c.v), cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestControlChartsShift checks the charts' purpose on Gaussian noise: in
// control the false-alarm rate is small, and a sustained 2σ shift is caught
// by every chart within its window.
func TestControlChartsShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, trials = 300, 400
	v := make([]float64, n)
	tt := make([]int64, n)
	for i := range tt {
		tt[i] = int64(10 * i)
	}
	s := new(Scratch)
	charts := []struct {
		name      string
		f         func([]float64) Outcome
		maxRate   float64 // in-control alarm rate allowed per newest point
		minCaught float64
	}{
		{"ewma", func(v []float64) Outcome { return EWMAChart(tt, v, 0, s, EWMAOptions{}) }, 0.01, 0.95},
		{"cusum", func(v []float64) Outcome { return CUSUM(tt, v, 0, s, CUSUMOptions{}) }, 0.02, 0.95},
		// The four rules together alarm about once in 92 points in control;
		// a shifted newest point that falls back across the mean fires
		// nothing, since the newest point must be part of the pattern.
		{"western electric", func(v []float64) Outcome { return WesternElectric(tt, v, 0, s, WesternElectricOptions{}) }, 0.03, 0.9},
	}
	for _, c := range charts {
		alarms, caught := 0, 0
		for range trials {
			for i := range v {
				v[i] = 50 + 4*rng.NormFloat64()
			}
			if c.f(v).Vote == Yes {
				alarms++
			}
			for i := n - 8; i < n; i++ {
				v[i] += 2 * 4
			}
			if c.f(v).Vote == Yes {
				caught++
			}
		}
		if rate := float64(alarms) / trials; rate > c.maxRate {
			t.Errorf("%s: in-control alarm rate %.3f, want <= %.3f", c.name, rate, c.maxRate)
		}
		if rate := float64(caught) / trials; rate < c.minCaught {
			t.Errorf("%s: 2σ shift over 8 points caught in %.3f of trials, want >= %.2f", c.name, rate, c.minCaught)
		}
	}
}

// FuzzControlCharts checks that no input panics and that votes agree with
// ratios.
func FuzzControlCharts(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 0.2, 3.0)
	f.Fuzz(func(t *testing.T, data []byte, lambda, width float64) {
		v := make([]float64, len(data))
		tt := make([]int64, len(data))
		for i, c := range data {
			v[i] = float64(int8(c))
			if c == 0xff {
				v[i] = math.NaN()
			}
			tt[i] = int64(i)
		}
		for _, out := range []Outcome{
			EWMAChart(tt, v, 0, nil, EWMAOptions{Lambda: lambda, L: width, Window: len(data) % 17}),
			CUSUM(tt, v, 0, nil, CUSUMOptions{K: lambda, H: width, Window: len(data) % 23}),
			WesternElectric(tt, v, 0, nil, WesternElectricOptions{Window: len(data) % 13}),
		} {
			if out.Vote != None && (out.Vote == Yes) != (out.Ratio > 1) {
				t.Fatalf("vote %v with ratio %v", out.Vote, out.Ratio)
			}
		}
	})
}

func BenchmarkControlCharts(b *testing.B) {
	_, v := hwSine(8640, 10, 86400, 100, 10, 1, 11)
	tt := make([]int64, len(v))
	for i := range tt {
		tt[i] = int64(10 * i)
	}
	s := new(Scratch)
	for _, c := range []struct {
		name string
		f    func() Outcome
	}{
		{"EWMA", func() Outcome { return EWMAChart(tt, v, 0, s, EWMAOptions{}) }},
		{"CUSUM", func() Outcome { return CUSUM(tt, v, 0, s, CUSUMOptions{}) }},
		{"WesternElectric", func() Outcome { return WesternElectric(tt, v, 0, s, WesternElectricOptions{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v) * 16))
			for b.Loop() {
				c.f()
			}
		})
	}
}
