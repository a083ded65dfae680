package algorithms

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hwSine returns n points every step seconds of level + amp·sin(2πt/period)
// plus Gaussian noise of deviation sigma from a fixed seed.
func hwSine(n int, step, period int64, level, amp, sigma float64, seed uint64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	t := make([]int64, n)
	v := make([]float64, n)
	t0 := int64(1_700_006_400) // a UTC midnight
	for i := range t {
		t[i] = t0 + int64(i)*step
		v[i] = level + amp*math.Sin(2*math.Pi*float64(t[i]-t0)/float64(period)) + sigma*rng.NormFloat64()
	}
	return t, v
}

func TestFindSeason(t *testing.T) {
	type want struct {
		Period int
		Step   int64
		Strong bool // Strength >= 0.3
	}
	f := func(name string, tt []int64, v []float64, opt SeasonOptions, w want) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			got, err := FindSeason(tt, v, new(Scratch), opt)
			if err != nil {
				t.Fatalf("FindSeason: %v", err)
			}
			g := want{Period: got.Period, Step: got.Step, Strong: got.Strength >= DefaultSeasonMinStrength}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("season (-want +got):\n%s (strength %v)", diff, got.Strength)
			}
		})
	}
	tt, v := hwSine(7*288, 300, 86400, 100, 10, 1, 1)
	f("daily sine 5min", tt, v, SeasonOptions{}, want{288, 300, true})
	tt, v = hwSine(7*288, 300, 86400, 100, 0, 1, 2)
	f("white noise", tt, v, SeasonOptions{}, want{0, 300, false})
	tt, v = hwSine(2*288, 300, 86400, 100, 10, 1, 3)
	f("two days only: daily not measurable", tt, v, SeasonOptions{}, want{0, 300, false})
	tt, v = hwSine(1440, 60, 3600, 0, 5, 1, 4)
	f("configured hourly candidate", tt, v, SeasonOptions{Periods: []int64{3600, 86400}}, want{60, 60, true})
	lin := make([]float64, len(tt))
	for i := range lin {
		lin[i] = 3 + 0.5*float64(i)
	}
	f("linear trend is not a season", tt, lin, SeasonOptions{Periods: []int64{3600}}, want{0, 60, false})
	cst := make([]float64, len(tt))
	for i := range cst {
		cst[i] = 0.1
	}
	f("constant", tt, cst, SeasonOptions{Periods: []int64{3600}}, want{0, 60, false})
	// A daily pattern plus a large trend: detrending keeps the season.
	tt, v = hwSine(7*288, 300, 86400, 100, 10, 1, 5)
	for i := range v {
		v[i] += 0.5 * float64(i)
	}
	f("daily sine on a steep trend", tt, v, SeasonOptions{}, want{288, 300, true})
}

func TestFindSeasonErrors(t *testing.T) {
	s := new(Scratch)
	for name, c := range map[string]struct {
		t   []int64
		v   []float64
		opt SeasonOptions
	}{
		"length mismatch":  {[]int64{1, 2, 3}, []float64{1, 2}, SeasonOptions{}},
		"unsorted":         {[]int64{1, 3, 2}, []float64{1, 2, 3}, SeasonOptions{}},
		"negative period":  {[]int64{1, 2, 3}, []float64{1, 2, 3}, SeasonOptions{Periods: []int64{-5}}},
		"strength above 1": {[]int64{1, 2, 3}, []float64{1, 2, 3}, SeasonOptions{MinStrength: 1.5}},
		"strength NaN":     {[]int64{1, 2, 3}, []float64{1, 2, 3}, SeasonOptions{MinStrength: math.NaN()}},
	} {
		if _, err := FindSeason(c.t, c.v, s, c.opt); err == nil {
			t.Errorf("%s: FindSeason returned no error", name)
		}
	}
	for name, c := range map[string]struct {
		t []int64
		v []float64
	}{
		"empty":          {nil, nil},
		"two points":     {[]int64{1, 2}, []float64{1, 2}},
		"same timestamp": {[]int64{5, 5, 5, 5}, []float64{1, 2, 3, 4}},
		"all NaN":        {[]int64{1, 2, 3, 4}, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}},
	} {
		got, err := FindSeason(c.t, c.v, s, SeasonOptions{})
		if err != nil || got.Period != 0 || !math.IsNaN(got.Strength) {
			t.Errorf("%s: FindSeason = %+v, %v; want period 0, strength NaN, no error", name, got, err)
		}
	}
}

// TestSeasonResample checks the grid against hand-worked cases.
func TestSeasonResample(t *testing.T) {
	f := func(name string, tt []int64, v []float64, wantX []float64, wantStep int64) {
		t.Helper()
		x, step, err := seasonResample(tt, v, new(Scratch))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(wantX, x); diff != "" || step != wantStep {
			t.Errorf("%s: step %d (want %d), grid (-want +got):\n%s", name, step, wantStep, diff)
		}
	}
	nan := math.NaN()
	f("regular", []int64{10, 20, 30, 40}, []float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}, 10)
	// Gaps 10,10,30,10: median 10; grid 0..60 aligned on the newest (60).
	f("gap carried forward", []int64{0, 10, 20, 50, 60}, []float64{1, 2, 3, 4, 5},
		[]float64{1, 2, 3, 3, 3, 4, 5}, 10)
	// Gaps 10,10,6,14,10,10: median 10; 26 goes to its nearest grid point 30.
	f("jitter to nearest", []int64{0, 10, 20, 26, 40, 50, 60}, []float64{1, 2, 3, 4, 5, 6, 7},
		[]float64{1, 2, 3, 4, 5, 6, 7}, 10)
	// 35 ties between 30 and 40, goes to 40 and is overwritten by the
	// newer point at 40; 30 is empty and carries 20's value.
	f("tie to later, newest wins", []int64{0, 10, 20, 35, 40, 50}, []float64{1, 2, 3, 4, 5, 6},
		[]float64{1, 2, 3, 3, 5, 6}, 10)
	f("NaN missing, leading filled", []int64{0, 10, 20, 30}, []float64{nan, 7, nan, 9},
		[]float64{7, 7, 7, 9}, 10)
}

func TestSeasonSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 200 {
		n := 1 + rng.IntN(300)
		a := make([]int64, n)
		for i := range a {
			a[i] = int64(rng.IntN(1 + trial%20))
		}
		k := rng.IntN(n)
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		if got := seasonSelect(a, k); got != sorted[k] {
			t.Fatalf("trial %d: seasonSelect(k=%d) = %d, want %d", trial, k, got, sorted[k])
		}
	}
}

// TestFindSeasonNAB finds the daily season of NAB's nyc_taxi (30-minute
// taxi passenger counts, daily and weekly cycles) when ../shared is here.
func TestFindSeasonNAB(t *testing.T) {
	const path = "../../shared/nab/data/realKnownCause/nyc_taxi.csv"
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("NAB corpus not available (%v): this test runs where ../shared exists", err)
	}
	defer f.Close()
	var tt []int64
	var v []float64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		ts, val, ok := strings.Cut(sc.Text(), ",")
		if !ok {
			t.Fatalf("bad line %q", sc.Text())
		}
		when, err := time.Parse(time.DateTime, ts)
		if err != nil {
			t.Fatal(err)
		}
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatal(err)
		}
		tt = append(tt, when.Unix())
		v = append(v, x)
	}
	got, err := FindSeason(tt, v, new(Scratch), SeasonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Weekends make the weekly lag correlate best; either cycle is right.
	if got.Step != 1800 || (got.Period != 48 && got.Period != 336) || got.Strength < 0.5 {
		t.Errorf("nyc_taxi season = %+v, want step 1800 and period 48 or 336 with strength >= 0.5", got)
	}
}

func BenchmarkFindSeason(b *testing.B) {
	// 8640 points at 60 s = 6 days: the daily lag is measured, weekly is not.
	tt, v := hwSine(8640, 60, 86400, 100, 10, 1, 1)
	s := new(Scratch)
	if got, _ := FindSeason(tt, v, s, SeasonOptions{}); got.Period != 1440 {
		b.Fatalf("season %+v, want 1440", got)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(tt) * 16))
	for b.Loop() {
		FindSeason(tt, v, s, SeasonOptions{})
	}
}
