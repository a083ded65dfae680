package algorithms

import (
	"errors"
	"math"
	"testing"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	c := Checks{MinLength: 3, StalePeriod: 500, BoredomPoints: 4, BoredomSetSize: 1}
	var s Scratch
	f := func(v []float64, now int64, want error) {
		t.Helper()
		ts := make([]int64, len(v))
		for i := range ts {
			ts[i] = 1000 + int64(i)*10
		}
		if got := c.check(ts, v, now, &s); !errors.Is(got, want) && !(got == nil && want == nil) {
			t.Errorf("check(%v, now %d) = %v, want %v", v, now, got, want)
		}
	}
	last := func(n int) int64 { return 1000 + int64(n-1)*10 }
	f(nil, 0, ErrTooShort)
	f([]float64{1, 2}, last(2), ErrTooShort)
	f([]float64{1, 2, 3}, last(3)+501, ErrStale)
	f([]float64{1, 2, 3}, last(3)+500, nil)
	f([]float64{9, 5, 5, 5, 5}, last(5), ErrBoring)                                  // flat over the last 4
	f([]float64{5, 5, 5, 9, 5}, last(5), nil)                                        // two values in the last 4
	f([]float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}, last(4), ErrBoring) // NaNs are one value
	// Skyline's rule is equality: with set size 2, a flat series is not boring.
	c.BoredomSetSize = 2
	f([]float64{5, 5, 5, 5}, last(4), nil)
	f([]float64{5, 6, 5, 6}, last(4), ErrBoring)
}

// Consensus counts No votes: None acts as yes (Skyline's rule), and Score
// reaches Consensus/N exactly when the verdict is anomalous.
func TestEnsembleConsensus(t *testing.T) {
	t.Parallel()
	fixed := func(name string, vote Vote) Detector {
		return Detector{Name: name, Run: func([]int64, []float64, int64, *Scratch) Outcome { return Outcome{Vote: vote, Ratio: 1} }}
	}
	ts, v := []int64{1, 2, 3}, []float64{1, 2, 3}
	var s Scratch
	var out Verdict
	f := func(consensus int, votes []Vote, wantAnomalous bool, wantFired int) {
		t.Helper()
		e := &Ensemble{Name: "t", Consensus: consensus}
		for i, vote := range votes {
			e.Detectors = append(e.Detectors, fixed(string(rune('a'+i)), vote))
		}
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Analyze(ts, v, 3, &s, &out)
		if out.Anomalous != wantAnomalous || len(e.Fired(&out)) != wantFired || out.Err != nil {
			t.Errorf("consensus %d votes %v: anomalous %v fired %v err %v", consensus, votes, out.Anomalous, e.Fired(&out), out.Err)
		}
		if (out.Score >= float64(consensus)/float64(len(votes))) != out.Anomalous {
			t.Errorf("score %v inconsistent with the verdict", out.Score)
		}
		if out.Timestamp != 3 || out.Value != 3 {
			t.Errorf("judged point %d %v, want 3 3", out.Timestamp, out.Value)
		}
	}
	f(2, []Vote{Yes, Yes, No}, true, 2)
	f(2, []Vote{Yes, No, No}, false, 1)
	f(2, []Vote{Yes, None, No}, true, 1) // None counts as yes, is not "fired"
	f(3, []Vote{None, None, None}, true, 0)
	f(1, []Vote{No, No, No}, false, 0)
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"classic", "default"} {
		e, err := Profile(name, 86400)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Profile("nope", 86400); err == nil {
		t.Error("an unknown profile gave no error")
	}
}

// With a score cap, Score is the mean capped Ratio (NaN and negative count
// 0, +Inf counts the cap) and Anomalous is Score >= Threshold.
func TestEnsembleEvidence(t *testing.T) {
	t.Parallel()
	ratio := func(r float64) Detector {
		return Detector{Name: "r", Run: func([]int64, []float64, int64, *Scratch) Outcome {
			if r > 1 {
				return yes(r)
			}
			return no(r)
		}}
	}
	ts, v := []int64{1, 2, 3}, []float64{1, 2, 3}
	var s Scratch
	var out Verdict
	f := func(ratios []float64, wantScore float64, wantAnomalous bool) {
		t.Helper()
		e := &Ensemble{Name: "t", Consensus: 1, ScoreCap: 2, Threshold: 0.5}
		for _, r := range ratios {
			e.Detectors = append(e.Detectors, ratio(r))
		}
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Analyze(ts, v, 3, &s, &out)
		if math.Abs(out.Score-wantScore) > 1e-12 || out.Anomalous != wantAnomalous || out.Err != nil {
			t.Errorf("ratios %v: score %v anomalous %v err %v, want %v %v", ratios, out.Score, out.Anomalous, out.Err, wantScore, wantAnomalous)
		}
		if (out.Score >= e.AlertThreshold()) != out.Anomalous {
			t.Errorf("ratios %v: score %v inconsistent with the verdict", ratios, out.Score)
		}
	}
	f([]float64{1, 1}, 0.5, true)                      // every detector at its threshold
	f([]float64{0.9, 0.9, 0.9}, 0.45, false)           // near misses only
	f([]float64{0.9, 1.2, 0.9}, 0.5, true)             // near misses and one yes
	f([]float64{math.Inf(1), 0, 0}, 1.0/3, false)      // one detector cannot carry it
	f([]float64{math.NaN(), 4, -1}, 1.0/3, false)      // NaN and negative add nothing; 4 is capped
	f([]float64{math.Inf(1), math.Inf(1), 2}, 1, true) // the score stays in [0, 1]
}

func TestEnsembleValidateScore(t *testing.T) {
	t.Parallel()
	d := Detector{Name: "d", Run: ThreeSigma}
	for _, e := range []*Ensemble{
		{Name: "nan cap", Detectors: []Detector{d}, Consensus: 1, ScoreCap: math.NaN(), Threshold: 0.5},
		{Name: "negative cap", Detectors: []Detector{d}, Consensus: 1, ScoreCap: -1, Threshold: 0.5},
		{Name: "zero threshold", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2},
		{Name: "threshold above 1", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 1.5},
	} {
		if err := e.Validate(); err == nil {
			t.Errorf("%s: no error", e.Name)
		}
	}
	c := Classic(86400)
	c.ScoreCap, c.Threshold = 2, 0.5
	if err := c.Validate(); err == nil {
		t.Error("classic with a score cap: no error")
	}
}

// A baseline whose spread overflows float64 (values near ±1e308, which
// Horizon accepts) is no evidence: found by review, the charts and
// Holt-Winters voted Yes with an infinite ratio.
func TestOverflowIsNoEvidence(t *testing.T) {
	t.Parallel()
	n := 60
	ts, v := make([]int64, n), make([]float64, n)
	for i := range v {
		ts[i] = 1_700_000_000 + int64(i)*60
		v[i] = 1e308
		if i%2 == 1 {
			v[i] = -1e308
		}
	}
	v[n-1] = 0
	var s Scratch
	for name, oc := range map[string]Outcome{
		"ewma":         EWMAChart(ts, v, ts[n-1], &s, EWMAOptions{}),
		"cusum":        CUSUM(ts, v, ts[n-1], &s, CUSUMOptions{}),
		"we":           WesternElectric(ts, v, ts[n-1], &s, WesternElectricOptions{}),
		"holt_winters": HoltWinters(ts, v, ts[n-1], &s, HoltWintersOptions{Period: 120}),
	} {
		if oc.Vote == Yes || math.IsInf(oc.Ratio, 0) {
			t.Errorf("%s on an overflowing baseline: %+v", name, oc)
		}
	}
}

// A ±Inf or NaN newest value is no evidence for any fixed detector (found by
// review: four of them voted Yes with an infinite ratio), and Analyze
// refuses series whose slices differ in length.
func TestNotFiniteNewestValue(t *testing.T) {
	t.Parallel()
	e := Default(86400)
	n := 400
	ts, v := make([]int64, n), make([]float64, n)
	for i := range v {
		ts[i] = 1_700_000_000 + int64(i)*60
		v[i] = 10 + float64(i%5)
	}
	var s Scratch
	for _, bad := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		v[n-1] = bad
		for _, d := range e.Detectors {
			if oc := d.Run(ts, v, ts[n-1], &s); oc.Vote == Yes || math.IsInf(oc.Ratio, 0) {
				t.Errorf("%s on a newest value of %v: %+v", d.Name, bad, oc)
			}
		}
	}
	var out Verdict
	e.Analyze(ts, v[:n-1], ts[n-1], &s, &out)
	if !errors.Is(out.Err, ErrMismatch) || out.Anomalous {
		t.Errorf("mismatched lengths: %+v", out.Err)
	}
}
