package algorithms

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hwRefCase is one case of testdata/holtwinters/cases.json, written by
// testdata/holtwinters/ref.py (independent numpy implementation, its
// Holt-Winters states cross-checked against statsmodels).
type hwRefCase struct {
	Name           string     `json:"name"`
	T              []int64    `json:"t"`
	V              []*float64 `json:"v"` // null = NaN
	PeriodSeconds  int64      `json:"period_seconds"`
	Step           int64      `json:"step"`
	GridLen        int        `json:"grid_len"`
	SeasonPeriod   int        `json:"season_period"`
	SeasonStrength *float64   `json:"season_strength"`
	ModelPeriod    int        `json:"model_period"`
	Level          float64    `json:"level"`
	Trend          float64    `json:"trend"`
	Forecast       float64    `json:"forecast"`
	Err            float64    `json:"err"`
	Dev            float64    `json:"dev"`
	Ratio          float64    `json:"ratio"`
	Vote           Vote       `json:"vote"`
	Seasonal       []float64  `json:"seasonal"`
	Deviations     []float64  `json:"deviations"`
	StatsForecast  *float64   `json:"statsmodels_forecast"`
}

func hwLoadCases(t *testing.T) []hwRefCase {
	t.Helper()
	b, err := os.ReadFile("testdata/holtwinters/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Alpha, Beta, Gamma, Delta float64
		Cases                     []hwRefCase
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if file.Alpha != DefaultHoltWintersAlpha || file.Beta != DefaultHoltWintersBeta ||
		file.Gamma != DefaultHoltWintersGamma || file.Delta != DefaultHoltWintersDelta {
		t.Fatalf("reference parameters %+v differ from the defaults", file)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	return file.Cases
}

func hwValues(p []*float64) []float64 {
	v := make([]float64, len(p))
	for i, x := range p {
		if x == nil {
			v[i] = math.NaN()
		} else {
			v[i] = *x
		}
	}
	return v
}

// TestHoltWintersReference compares the season search, the model states and
// the verdict with the numpy reference (relative 1e-9).
func TestHoltWintersReference(t *testing.T) {
	approx := cmpopts.EquateApprox(1e-9, 1e-12)
	for _, c := range hwLoadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			v := hwValues(c.V)
			s := new(Scratch)
			season, err := FindSeason(c.T, v, s, SeasonOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantStrength := math.NaN()
			if c.SeasonStrength != nil {
				wantStrength = *c.SeasonStrength
			}
			wantSeason := Season{Period: c.SeasonPeriod, Step: c.Step, Strength: wantStrength}
			if diff := cmp.Diff(wantSeason, season, approx, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("FindSeason (-want +got):\n%s", diff)
			}
			opt := HoltWintersOptions{Period: c.PeriodSeconds}
			r, ok := hwFit(c.T, v, s, opt)
			if !ok || !r.defined {
				t.Fatalf("hwFit: ok %v, defined %v", ok, r.defined)
			}
			type state struct {
				Period                           int
				Level, Trend, Forecast, Err, Dev float64
				Seasonal, Deviations             []float64
			}
			want := state{c.ModelPeriod, c.Level, c.Trend, c.Forecast, c.Err, c.Dev, c.Seasonal, c.Deviations}
			got := state{r.period, r.level, r.trend, r.forecast, r.err, r.dev, r.seasonal, r.deviations}
			if diff := cmp.Diff(want, got, approx, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("model state (-want +got):\n%s", diff)
			}
			if c.StatsForecast != nil {
				if diff := cmp.Diff(*c.StatsForecast, r.forecast, approx); diff != "" {
					t.Errorf("forecast vs statsmodels (-want +got):\n%s", diff)
				}
			}
			out := HoltWinters(c.T, v, c.T[len(c.T)-1], s, opt)
			if diff := cmp.Diff(Outcome{Vote: c.Vote, Ratio: c.Ratio}, out, approx); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHoltWintersDailySeason is the reason Holt-Winters is in Kale: a clean
// daily cycle must not raise alarms at its peaks, troughs or steepest
// slopes, while a spike or a level shift on the newest point must.
func TestHoltWintersDailySeason(t *testing.T) {
	const perDay = 288 // 5-minute points
	const amp, sigma = 20.0, 1.0
	// Seven days, amplitude 20 against noise 1: the daily swing is 40σ.
	tt, v := hwSine(7*perDay, 300, 86400, 100, amp, sigma, 42)
	clean := func(i int) float64 { // the noise-free value at point i
		return 100 + amp*math.Sin(2*math.Pi*float64(tt[i]-tt[0])/86400)
	}
	s := new(Scratch)
	judge := func(end int, newest float64, shift int) Outcome {
		vv := append([]float64(nil), v[:end]...)
		for i := end - shift; i < end-1; i++ {
			vv[i] += newest - clean(end-1)
		}
		vv[end-1] = newest
		return HoltWinters(tt[:end], vv, tt[end-1], s, HoltWintersOptions{})
	}
	// Phases in the last three days: rising steepest at 0, peak at 1/4
	// day, falling steepest at 1/2, trough at 3/4. The newest point is put
	// at its noise-free value (so only the model's own error is judged),
	// then 8σ above and below it.
	for day := 4; day < 7; day++ {
		for q, name := range []string{"rising slope", "peak", "falling slope", "trough"} {
			end := day*perDay + q*perDay/4 + 1
			c := clean(end - 1)
			if got := judge(end, c, 1); got.Vote != No || got.Ratio > 0.6 {
				t.Errorf("day %d %s at its seasonal value: %+v, want No with ratio <= 0.6", day, name, got)
			}
			if got := judge(end, c+8*sigma, 1); got.Vote != Yes {
				t.Errorf("day %d %s +8σ: %+v, want Yes", day, name, got)
			}
			if got := judge(end, c-8*sigma, 1); got.Vote != Yes {
				t.Errorf("day %d %s -8σ: %+v, want Yes", day, name, got)
			}
			// A level shift of 6σ that began 3 points ago is still flagged
			// at the newest point (the level adapts at α = 0.1 a point).
			if got := judge(end, c+6*sigma, 3); got.Vote != Yes {
				t.Errorf("day %d %s 6σ shift held 3 points: %+v, want Yes", day, name, got)
			}
		}
	}
	// The false-alarm rate over every point of the last three days, the
	// data left as generated. Brutlag's per-phase deviation is a noisy
	// estimate (each phase is updated once a day), so the rate is about
	// twice the 1.6% an exact band of ±2.4σ would give.
	alarms := 0
	for end := 4*perDay + 1; end <= len(v); end++ {
		if HoltWinters(tt[:end], v[:end], tt[end-1], s, HoltWintersOptions{}).Vote == Yes {
			alarms++
		}
	}
	if rate := float64(alarms) / float64(3*perDay); rate > 0.06 {
		t.Errorf("false alarms on %d of %d clean points (%.1f%%), want <= 6%%", alarms, 3*perDay, 100*rate)
	}
	// Skyline's moving-average detectors see the daily ramp as a trend
	// break; the same series judged with the season switched off (Holt's
	// linear smoothing) must still not flag the noise-free peak.
	end := 5*perDay + perDay/4 + 1
	vv := append([]float64(nil), v[:end]...)
	vv[end-1] = clean(end - 1)
	if got := HoltWinters(tt[:end], vv, tt[end-1], s, HoltWintersOptions{Period: -1}); got.Vote != No {
		t.Errorf("no season, peak at its value: %+v, want No", got)
	}
}

func TestHoltWintersDegenerate(t *testing.T) {
	nan := math.NaN()
	ramp := func(n int, f func(i int) float64) ([]int64, []float64) {
		tt := make([]int64, n)
		v := make([]float64, n)
		for i := range tt {
			tt[i] = 1000 + 60*int64(i)
			v[i] = f(i)
		}
		return tt, v
	}
	cst := func(int) float64 { return 0.1 }
	tt, v := ramp(100, cst)
	tt2, v2 := ramp(100, cst)
	v2[99] = 0.2
	tt3, v3 := ramp(100, cst)
	v3[99] = nan
	tt4, v4 := ramp(100, func(int) float64 { return 0 })
	tt5, v5 := ramp(100, func(i int) float64 { return 5 + 2*float64(i) })
	tt6, v6 := ramp(9, func(i int) float64 { return float64(i) })
	tt7, v7 := ramp(100, func(i int) float64 { return float64(i % 7) })
	v7[50] = nan
	v7[51] = math.Inf(1)
	for _, c := range []struct {
		name string
		t    []int64
		v    []float64
		opt  HoltWintersOptions
		want Outcome
	}{
		{"constant", tt, v, HoltWintersOptions{}, no(0)},
		// The deviation is floored at 1e-13·max|x| = 2e-14.
		{"constant then change", tt2, v2, HoltWintersOptions{}, yes(0.1 / (3 * 2e-14))},
		{"newest NaN", tt3, v3, HoltWintersOptions{}, undefined},
		{"all zeros", tt4, v4, HoltWintersOptions{}, no(0)},
		// A straight line: the trend is learnt and the newest is on it.
		{"straight line", tt5, v5, HoltWintersOptions{}, no(0)},
		{"too short", tt6, v6, HoltWintersOptions{}, undefined},
		{"length mismatch", tt, v[:50], HoltWintersOptions{}, Outcome{None, nan}},
		{"unsorted", []int64{3, 2, 1}, []float64{1, 2, 3}, HoltWintersOptions{}, Outcome{None, nan}},
		{"alpha above 1", tt, v, HoltWintersOptions{Alpha: 2}, Outcome{None, nan}},
		{"negative delta", tt, v, HoltWintersOptions{Delta: -1}, Outcome{None, nan}},
		{"bad season option", tt, v, HoltWintersOptions{Season: SeasonOptions{Periods: []int64{0}}}, Outcome{None, nan}},
	} {
		got := HoltWinters(c.t, c.v, 0, new(Scratch), c.opt)
		// The straight line ends within rounding of its forecast.
		if diff := cmp.Diff(c.want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(1e-12, 1e-6)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	// NaN and Inf inside the series are carried over, not propagated.
	if got := HoltWinters(tt7, v7, 0, new(Scratch), HoltWintersOptions{Period: 420}); math.IsNaN(got.Ratio) {
		t.Errorf("NaN inside the series: %+v, want a defined ratio", got)
	}
}

// FuzzHoltWinters checks that no input panics and that the vote agrees
// with the ratio.
func FuzzHoltWinters(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, int64(0))
	f.Add([]byte("a seasonal-looking byte string, repeated: abcabcabcabcabcabcabc"), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, period int64) {
		tt := make([]int64, len(data)/2)
		v := make([]float64, len(data)/2)
		var now int64
		for i := range tt {
			now += int64(data[2*i] % 4) // gaps 0..3 (0 = same timestamp)
			tt[i] = now
			v[i] = float64(int8(data[2*i+1]))
		}
		out := HoltWinters(tt, v, now, new(Scratch), HoltWintersOptions{Period: period % 50, Season: SeasonOptions{Periods: []int64{3, 7}}})
		if (out.Vote == Yes) != (out.Ratio > 1) && out.Vote != None {
			t.Fatalf("vote %v with ratio %v", out.Vote, out.Ratio)
		}
	})
}

// BenchmarkHoltWinters runs the detector on 8640 points: at 10 s (one day,
// Skyline's FULL_DURATION: no daily season can be measured, so the season
// search plus Holt's fallback) and at 60 s (six days: daily season of 1440
// points found and modelled).
func BenchmarkHoltWinters(b *testing.B) {
	for _, c := range []struct {
		name   string
		step   int64
		period int
	}{{"10s_no_season", 10, 0}, {"60s_daily", 60, 1440}} {
		b.Run(c.name, func(b *testing.B) {
			tt, v := hwSine(8640, c.step, 86400, 100, 10, 1, 9)
			s := new(Scratch)
			if r, _ := hwFit(tt, v, s, HoltWintersOptions{}); r.period != c.period {
				b.Fatalf("period %d, want %d", r.period, c.period)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tt) * 16))
			for b.Loop() {
				HoltWinters(tt, v, tt[len(tt)-1], s, HoltWintersOptions{})
			}
		})
	}
}
