package algorithms

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-kale/kale/internal/parity"
	"github.com/google/go-cmp/cmp"
)

// skylineCase is one series of testdata/skyline/skyline.json with the votes
// and statistics of Etsy's algorithms as gen.py ran them.
type skylineCase struct {
	Name         string                        `json:"name"`
	T            []int64                       `json:"t"`
	V            []pyFloat                     `json:"v"`
	Now          int64                         `json:"now"`
	FullDuration int64                         `json:"full_duration"`
	Votes        map[string]json.RawMessage    `json:"votes"`
	Stats        map[string]map[string]statVal `json:"stats"`
}

// statVal is one recorded statistic: a float, or an array (histogram
// counts and edges) or exception name, kept as NaN since no Ratio is
// derived from those.
type statVal float64

func (f *statVal) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' || string(b) == `"ValueError"` {
		*f = statVal(math.NaN())
		return nil
	}
	var p pyFloat
	err := p.UnmarshalJSON(b)
	*f = statVal(p)
	return err
}

// pyVote decodes gen.py's vote: true, false, null or "raise".
func pyVote(t *testing.T, raw json.RawMessage) (v Vote, raise bool) {
	t.Helper()
	switch string(raw) {
	case "true":
		return Yes, false
	case "false":
		return No, false
	case "null":
		return None, false
	case `"raise"`:
		return None, true
	}
	t.Fatalf("bad vote %s", raw)
	return None, false
}

// expectedRatio derives the Ratio a classic detector documents from the
// statistics Python recorded; ok false when there is none to compare.
func expectedRatio(name string, n int, st map[string]statVal, vote Vote) (r, tol float64, ok bool) {
	g := func(k string) float64 { return float64(st[k]) }
	has := func(k string) bool { _, ok := st[k]; return ok }
	switch name {
	case "median_absolute_deviation":
		if g("mad") == 0 {
			return math.NaN(), 0, true
		}
		return g("stat") / 6, 1e-12, has("stat")
	case "grubbs":
		return g("z") / g("g"), 1e-9, true
	case "first_hour_average", "stddev_from_average", "stddev_from_moving_average", "mean_subtraction_cumulation":
		return math.Abs(g("dev")) / (3 * g("sd")), 1e-12, true
	case "least_squares":
		if !has("sd") {
			return math.NaN(), 0, true
		}
		r := math.Abs(g("dev")) / (3 * g("sd"))
		if vote != Yes {
			r = math.Min(r, 1)
		}
		// numpy's lstsq solves the ill-conditioned [t, 1] system by SVD,
		// which shifts all residuals by about eps·cond·|m|·t̄ (cond ≈
		// t̄/spread(t)): negligible for an hour or more of points, large
		// for a few points with a steep slope (the votes still agree).
		return r, 1e-5, g("sd") > 1e-6 && n >= 60
	case "ks_test":
		if !has("d") {
			return math.NaN(), 0, true
		}
		r := math.Min(0.05/g("p"), g("d")/0.5)
		if has("adf_p") && !math.IsNaN(g("adf_p")) {
			r = math.Min(r, 0.05/g("adf_p"))
		}
		if vote != Yes {
			r = math.Min(r, 1)
		}
		return r, 1e-8, true
	}
	return 0, 0, false
}

// TestSkylineClassicReference runs the classic detectors on the generator's
// series and requires Etsy's exact votes (True/False/None/raise) and the
// documented Ratio computed from Python's statistics.
func TestSkylineClassicReference(t *testing.T) {
	var cases []skylineCase
	loadTestdata(t, "skyline.json", &cases)
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	var s Scratch
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			v := floats(c.V)
			o := SkylineOptions{Classic: true, FullDuration: c.FullDuration}
			var out [9]Outcome
			err := SkylineRun(c.T, v, c.Now, o, &s, &out)
			anyRaise := false
			for i, name := range SkylineNames {
				want, raise := pyVote(t, c.Votes[name])
				anyRaise = anyRaise || raise
				got := out[i]
				if single := SkylineDetectors[i](c.T, v, c.Now, o, &s); !sameOutcome(single, got) {
					t.Errorf("%s: detector %v, SkylineRun %v", name, single, got)
				}
				if got.Vote != want {
					t.Errorf("%s: vote %v, Etsy %v (raise=%v); ratio %v, stats %v", name, got.Vote, want, raise, got.Ratio, c.Stats[name])
					continue
				}
				if raise {
					if !math.IsNaN(got.Ratio) {
						t.Errorf("%s: raised with ratio %v, want NaN", name, got.Ratio)
					}
					continue
				}
				if r, tol, ok := expectedRatio(name, len(v), c.Stats[name], want); ok && !closeFloat(got.Ratio, r, tol) {
					t.Errorf("%s: ratio %v, from Python's statistics %v", name, got.Ratio, r)
				}
				if got.Vote == Yes && !(got.Ratio > 1) {
					t.Errorf("%s: voted yes with ratio %v", name, got.Ratio)
				}
			}
			if anyRaise != errors.Is(err, ErrSkylineRaised) {
				t.Errorf("SkylineRun err = %v, Python raised: %v", err, anyRaise)
			}
		})
	}
}

func sameOutcome(a, b Outcome) bool {
	return a.Vote == b.Vote && sameFloat(a.Ratio, b.Ratio)
}

// TestSkylineFixedContract checks, over the generator's series, that the
// fixed forms never vote None, that Ratio > 1 exactly when they vote Yes,
// and that they never fail.
func TestSkylineFixedContract(t *testing.T) {
	var cases []skylineCase
	loadTestdata(t, "skyline.json", &cases)
	var s Scratch
	for _, c := range cases {
		v := floats(c.V)
		var out [9]Outcome
		if err := SkylineRun(c.T, v, c.Now, SkylineOptions{FullDuration: c.FullDuration}, &s, &out); err != nil {
			t.Errorf("%s: fixed SkylineRun err = %v", c.Name, err)
		}
		for i, oc := range out {
			if oc.Vote == None {
				t.Errorf("%s/%s: fixed form voted None", c.Name, SkylineNames[i])
			}
			if (oc.Vote == Yes) != (oc.Ratio > 1) {
				t.Errorf("%s/%s: vote %v with ratio %v", c.Name, SkylineNames[i], oc.Vote, oc.Ratio)
			}
		}
	}
}

// series builds n points at step seconds of noise around level, with the
// last k values replaced by tail.
func series(n int, step int64, level, noise float64, k int, tail float64, seed uint64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := make([]int64, n)
	v := make([]float64, n)
	for i := range v {
		t[i] = 1_700_000_000 + int64(i)*step
		v[i] = level + noise*rng.NormFloat64()
		if i >= n-k {
			v[i] = tail
		}
	}
	return t, v
}

// TestSkylineFixedDecisions: on a day of 10-second noise, no fixed detector
// fires; with a large three-point tail, each one but ks_test does (the
// tail is three points, the KS probe ten minutes).
func TestSkylineFixedDecisions(t *testing.T) {
	var s Scratch
	o := SkylineOptions{}
	tq, vq := series(8640, 10, 100, 5, 0, 0, 1)
	tt, vt := series(8640, 10, 100, 5, 3, 200, 1)
	var quiet, spiky [9]Outcome
	if err := SkylineRun(tq, vq, 0, o, &s, &quiet); err != nil {
		t.Fatal(err)
	}
	if err := SkylineRun(tt, vt, 0, o, &s, &spiky); err != nil {
		t.Fatal(err)
	}
	var gotQuiet, gotSpiky []Vote
	for i := range SkylineNames {
		gotQuiet = append(gotQuiet, quiet[i].Vote)
		gotSpiky = append(gotSpiky, spiky[i].Vote)
	}
	wantQuiet := []Vote{No, No, No, No, No, No, No, No, No}
	wantSpiky := []Vote{Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, No}
	if d := cmp.Diff(wantQuiet, gotQuiet); d != "" {
		t.Errorf("quiet votes (-want +got), names %v:\n%s", SkylineNames, d)
	}
	if d := cmp.Diff(wantSpiky, gotSpiky); d != "" {
		t.Errorf("spiky votes (-want +got), names %v:\n%s", SkylineNames, d)
	}
}

// TestSkylineFixedUsesSeriesTime: the fixed forms ignore now (a replay
// from the past judges like a live run), the classic ones use it.
func TestSkylineFixedUsesSeriesTime(t *testing.T) {
	var s Scratch
	tt, v := series(420, 10, 10, 1, 0, 0, 3)
	for i := 360; i < 420; i++ {
		v[i] += 5
	}
	last := tt[len(tt)-1]
	fixedNow := KSTest(tt, v, last, SkylineOptions{}, &s)
	fixedLater := KSTest(tt, v, last+100000, SkylineOptions{}, &s)
	if !sameOutcome(fixedNow, fixedLater) || fixedNow.Vote != Yes {
		t.Errorf("fixed KSTest: at t_n %v, later %v; want the same Yes", fixedNow, fixedLater)
	}
	classicLater := KSTest(tt, v, last+100000, SkylineOptions{Classic: true}, &s)
	if classicLater.Vote != No {
		t.Errorf("classic KSTest with a later now = %v, want No (empty windows)", classicLater)
	}
}

// TestSkylineDegenerate: empty, one-point and constant series.
func TestSkylineDegenerate(t *testing.T) {
	var s Scratch
	for _, tc := range []struct {
		name string
		t    []int64
		v    []float64
	}{
		{"empty", nil, nil},
		{"one", []int64{100}, []float64{3}},
		{"constant", []int64{0, 60, 120, 180, 240, 300}, []float64{2, 2, 2, 2, 2, 2}},
	} {
		var fixed, classic [9]Outcome
		if err := SkylineRun(tc.t, tc.v, 300, SkylineOptions{}, &s, &fixed); err != nil {
			t.Errorf("%s: fixed err %v", tc.name, err)
		}
		err := SkylineRun(tc.t, tc.v, 300, SkylineOptions{Classic: true}, &s, &classic)
		if (tc.name == "empty") != errors.Is(err, ErrSkylineRaised) {
			t.Errorf("%s: classic err %v", tc.name, err)
		}
		for i, oc := range fixed {
			if oc.Vote != No {
				t.Errorf("%s/%s: fixed %v, want No", tc.name, SkylineNames[i], oc)
			}
		}
	}
}

// TestThreeSigma states ThreeSigma's cases.
func TestThreeSigma(t *testing.T) {
	var s Scratch
	ts := func(n int) []int64 { return make([]int64, n) }
	for _, tc := range []struct {
		name string
		v    []float64
		want Outcome
	}{
		// history 1,3 (mean 2, σ1 = √2), T = 2: ratio 0.
		{"centre", []float64{1, 3, 2, 2, 2}, Outcome{No, 0}},
		// history 1,3, T = 2+3√2·2: ratio 2.
		{"far", []float64{1, 3, 2 + 6*math.Sqrt2, 2 + 6*math.Sqrt2, 2 + 6*math.Sqrt2}, Outcome{Yes, 2}},
		{"flat same", []float64{4, 4, 4, 4, 4, 4}, Outcome{No, 0}},
		{"flat step", []float64{4, 4, 4, 5, 5, 5}, Outcome{Yes, math.Inf(1)}},
		{"short", []float64{1, 2, 3, 4}, undefined},
		{"nan", []float64{1, math.NaN(), 3, 4, 5}, undefined},
	} {
		got := ThreeSigma(ts(len(tc.v)), tc.v, 0, &s)
		if got.Vote != tc.want.Vote || !closeFloat(got.Ratio, tc.want.Ratio, 1e-12) {
			t.Errorf("%s: ThreeSigma = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestGrubbsCriticalReference: the Student t quantile behind Grubbs
// against scipy.stats.t.isf (values from /usr/bin/python3, scipy 1.10).
func TestGrubbsCriticalReference(t *testing.T) {
	// ((n-1)/sqrt(n))*sqrt(t²/(n-2+t²)) with t = scipy.stats.t.isf(.05/(2n), n-2).
	for _, tc := range []struct {
		n    int
		want float64
	}{
		{3, 1.1543048513440386},
		{10, 2.2899540844796067},
		{60, 3.199661829437273},
		{8640, 4.531459015030664},
	} {
		if got := GrubbsCritical(tc.n); !closeFloat(got, tc.want, 1e-11) {
			t.Errorf("GrubbsCritical(%d) = %v, scipy %v", tc.n, got, tc.want)
		}
	}
	if !math.IsNaN(GrubbsCritical(2)) {
		t.Error("GrubbsCritical(2) is not NaN")
	}
}

// TestSkylineClassicParity regenerates the shared parity corpora (recipe
// in /work/shared/parity/README.md, via internal/parity) and compares the
// classic detectors' votes and Skyline's consensus with the verdicts Etsy's
// Python recorded. The hour corpus always runs; the day and week corpora
// (8.6M and 10M values) only without -short. Skipped when the shared
// directory is absent.
func TestSkylineClassicParity(t *testing.T) {
	dir, err := parity.SharedDir()
	if err != nil {
		t.Skipf("no shared parity corpora: %v", err)
	}
	for _, name := range []string{"ds_m1000_n60_s60_seed42", "ds_m1000_n8640_s10_seed42", "ds_m1000_n10080_s60_seed42"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "ds_m1000_n60_s60_seed42" {
				t.Skip("large corpus under -short")
			}
			info, err := parity.ReadCorpusInfo(filepath.Join(dir, name+".json"))
			if err != nil {
				t.Skipf("corpus missing: %v", err)
			}
			f, err := os.Open(info.VerdictsPath())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, verdicts, err := parity.ReadVerdicts(f)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(SkylineNames[:], h.Algorithms); d != "" {
				t.Fatalf("algorithm order differs (-ours +file):\n%s", d)
			}
			p := info.Params()
			ts := make([]int64, p.Points)
			for i := range ts {
				ts[i] = p.T0 + int64(i)*p.Step
			}
			e := Classic(h.FullDuration) // the whole classic profile: pre-checks, votes, consensus
			if e.Consensus != h.Consensus {
				t.Fatalf("consensus %d, Etsy's file says %d", e.Consensus, h.Consensus)
			}
			var s Scratch
			var v []float64
			var verdict Verdict
			var perAlg [9]int
			metricsAgree, votesAgree, votes, logged := 0, 0, 0, 0
			for _, want := range verdicts {
				v = parity.GenerateMetric(v, p, want.Metric)
				e.Analyze(ts, v, h.Now, &s, &verdict)
				if verdict.Anomalous == want.Anomalous {
					metricsAgree++
				}
				for i, vote := range verdict.Votes {
					votes++
					if int8(vote) == int8(want.Votes[i]) {
						votesAgree++
						perAlg[i]++
					} else if logged < 10 {
						logged++
						t.Logf("metric %d %s: ours %v (ratio %v), Etsy %v", want.Metric, SkylineNames[i], vote, verdict.Ratios[i], want.Votes[i])
					}
				}
			}
			n := len(verdicts)
			for i, a := range perAlg {
				t.Logf("%-28s %d/%d votes agree (%.2f%%)", SkylineNames[i], a, n, 100*float64(a)/float64(n))
			}
			t.Logf("metrics agree %d/%d (%.2f%%), votes %d/%d (%.3f%%)", metricsAgree, n, 100*float64(metricsAgree)/float64(n), votesAgree, votes, 100*float64(votesAgree)/float64(votes))
			if float64(metricsAgree) < 0.995*float64(n) || float64(votesAgree) < 0.99*float64(votes) {
				t.Errorf("parity below target: metrics %d/%d, votes %d/%d", metricsAgree, n, votesAgree, votes)
			}
		})
	}
}

// FuzzSkyline feeds arbitrary series (values from the fuzz bytes, 10 s
// apart) to both forms: no panic, the fixed forms never vote None and vote
// Yes exactly when Ratio > 1, and the classic forms vote None with a NaN
// Ratio only when SkylineRun reports ErrSkylineRaised or for MAD.
func FuzzSkyline(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 240, 63}, int64(0))
	f.Add(make([]byte, 8*30), int64(600))
	// A range wider than float64 holds (numpy raises IndexError).
	f.Add([]byte("000000 \x00000000 \x000000000\x00"), int64(646))
	f.Fuzz(func(t *testing.T, b []byte, late int64) {
		n := len(b) / 8
		if n > 2000 {
			n = 2000
		}
		ts := make([]int64, n)
		v := make([]float64, n)
		for i := range v {
			ts[i] = 1_700_000_000 + 10*int64(i)
			v[i] = math.Float64frombits(uint64(b[8*i]) | uint64(b[8*i+1])<<8 | uint64(b[8*i+2])<<16 |
				uint64(b[8*i+3])<<24 | uint64(b[8*i+4])<<32 | uint64(b[8*i+5])<<40 | uint64(b[8*i+6])<<48 | uint64(b[8*i+7])<<56)
		}
		now := int64(1_700_000_000) + 10*int64(n) + late%100000
		var s Scratch
		var out [9]Outcome
		if err := SkylineRun(ts, v, now, SkylineOptions{FullDuration: 3600}, &s, &out); err != nil {
			t.Fatalf("fixed: %v", err)
		}
		for i, oc := range out {
			if oc.Vote == None || (oc.Vote == Yes) != (oc.Ratio > 1) {
				t.Fatalf("fixed %s: %v", SkylineNames[i], oc)
			}
		}
		err := SkylineRun(ts, v, now, SkylineOptions{Classic: true, FullDuration: 3600}, &s, &out)
		for i, oc := range out {
			if oc.Vote == None && math.IsNaN(oc.Ratio) && err == nil && SkylineNames[i] != "median_absolute_deviation" {
				t.Fatalf("classic %s: None without ErrSkylineRaised", SkylineNames[i])
			}
		}
		ThreeSigma(ts, v, now, &s)
	})
}
