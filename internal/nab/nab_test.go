package nab

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// σ is NAB's scaled sigmoid written independently of the package's code:
// 2/(1+e^(5x)) − 1 = tanh(−5x/2), and −1 beyond x = 3.
func σ(x float64) float64 {
	if x > 3 {
		return -1
	}
	return math.Tanh(-2.5 * x)
}

func TestScaledSigmoid(t *testing.T) {
	for _, x := range []float64{-1, -0.5, -0.25, 0, 0.5, 1, 2.99, 3, 3.01, 10} {
		if got, want := scaledSigmoid(x), σ(x); math.Abs(got-want) > 1e-15 {
			t.Errorf("scaledSigmoid(%v) = %v, want %v", x, got, want)
		}
	}
	// NAB's documented anchor values (nab/sweeper.py docstring).
	if got := scaledSigmoid(-1); math.Abs(got-0.98661) > 1e-5 {
		t.Errorf("scaledSigmoid(-1) = %v, want 0.98661", got)
	}
	if got := scaledSigmoid(-0.5); math.Abs(got-0.84828) > 1e-5 {
		t.Errorf("scaledSigmoid(-0.5) = %v, want 0.84828", got)
	}
}

func TestProbationLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 0}, {6, 0}, {7, 1}, {20, 3}, {1127, 169}, {4999, 749}, {5000, 750}, {22695, 750}} {
		if got := probationLength(tc.n); got != tc.want {
			t.Errorf("probationLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// t0 is the first timestamp of the synthetic files (2014-04-01 00:00:00 UTC).
const t0 = 1396310400

// steps returns n timestamps 5 minutes apart from t0.
func steps(n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = t0 + int64(i)*300
	}
	return ts
}

// toy is one 20-row file (probation 3 rows) with a window over rows 8..11
// (width 4).
func toy(t testing.TB) *Corpus {
	t.Helper()
	c, err := toyCorpus()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func toyCorpus() (*Corpus, error) {
	ts := steps(20)
	return NewCorpus([]*File{{Name: "cat/toy.csv", Timestamps: ts, Values: make([]float64, 20),
		Windows: []Window{{ts[8], ts[11]}}}})
}

// at returns 20 anomaly scores that are 1 at the given rows and 0 elsewhere.
func at(rows ...int) Results {
	s := make([]float64, 20)
	for _, r := range rows {
		s[r] = 1
	}
	return Results{"cat/toy.csv": s}
}

func TestScoreToy(t *testing.T) {
	c := toy(t)
	tpAt := func(i int) float64 { return σ(-float64(11-i+1)/4) / σ(-1) } // A_TP = 1
	fpAfter := func(i int) float64 { return σ(float64(i-11) / 3) }       // |R'−i|/(W'−1)
	for _, tc := range []struct {
		name string
		r    Results
		p    Profile
		raw  float64
		c    Counts
	}{
		{"nothing", at(), Standard, -1, Counts{TN: 13, FN: 4, Windows: 1}},
		{"nothing low FN", at(), RewardLowFN, -2, Counts{TN: 13, FN: 4, Windows: 1}},
		{"window start", at(8), Standard, 1, Counts{TP: 1, TN: 13, FN: 3, Windows: 1, WindowsDetected: 1}},
		{"mid window", at(10), Standard, tpAt(10), Counts{TP: 1, TN: 13, FN: 3, Windows: 1, WindowsDetected: 1}},
		{"window end", at(11), Standard, tpAt(11), Counts{TP: 1, TN: 13, FN: 3, Windows: 1, WindowsDetected: 1}},
		{"earliest detection counts", at(9, 10, 11), Standard, tpAt(9), Counts{TP: 3, TN: 13, FN: 1, Windows: 1, WindowsDetected: 1}},
		{"probation ignored", at(0, 1, 2), Standard, -1, Counts{TN: 13, FN: 4, Windows: 1}},
		{"FP before any window", at(5), Standard, -1 - 0.11, Counts{FP: 1, TN: 12, FN: 4, Windows: 1}},
		{"FP before any window low FP", at(5), RewardLowFP, -1 - 0.22, Counts{FP: 1, TN: 12, FN: 4, Windows: 1}},
		{"FP just after window", at(12), Standard, -1 + 0.11*fpAfter(12), Counts{FP: 1, TN: 12, FN: 4, Windows: 1}},
		{"FP far after window", at(19), Standard, -1 + 0.11*fpAfter(19), Counts{FP: 1, TN: 12, FN: 4, Windows: 1}},
		{"TP and FPs", at(3, 9, 14), Standard, tpAt(9) - 0.11 + 0.11*fpAfter(14), Counts{TP: 1, FP: 2, TN: 11, FN: 3, Windows: 1, WindowsDetected: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Score(c, tc.r, tc.p, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(rep.Raw-tc.raw) > 1e-12 {
				t.Errorf("raw %v, want %v", rep.Raw, tc.raw)
			}
			if diff := cmp.Diff(tc.c, rep.Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]FileScore{{Name: "cat/toy.csv", Raw: rep.Raw, Counts: rep.Counts}}, rep.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			wantNorm := 100 * (tc.raw + tc.p.FN) / (tc.p.TP + tc.p.FN)
			if math.Abs(rep.Normalized-wantNorm) > 1e-9 {
				t.Errorf("normalised %v, want %v", rep.Normalized, wantNorm)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ raw, null, perfect, want float64 }{
		{-116, -116, 116, 0}, {116, -116, 116, 100}, {0, -116, 116, 50}, {-232, -232, 116, 0}, {-348, -232, 116, -100.0 / 3},
	} {
		if got := Normalize(tc.raw, tc.null, tc.perfect); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Normalize(%v, %v, %v) = %v, want %v", tc.raw, tc.null, tc.perfect, got, tc.want)
		}
	}
	if got := Normalize(1, 2, 2); !math.IsNaN(got) {
		t.Errorf("Normalize with perfect == null = %v, want NaN", got)
	}
}

func TestOptimizeToy(t *testing.T) {
	c := toy(t)
	scores := func(m map[int]float64) Results {
		s := make([]float64, 20)
		for i, v := range m {
			s[i] = v
		}
		return Results{"cat/toy.csv": s}
	}
	fps := map[int]float64{4: 0.9, 5: 0.9, 6: 0.9, 7: 0.8}
	fpTail := 0.0 // σ of rows 12..19 after the window (end 11, width 4)
	for i := 12; i < 20; i++ {
		fpTail += σ(float64(i-11) / 3)
	}
	for _, tc := range []struct {
		name      string
		r         Results
		p         Profile
		threshold float64
		raw       float64
	}{
		// 0.95 adds an FP only; 0.9 adds the window's first row.
		{"best below an FP", scores(map[int]float64{5: 0.95, 8: 0.9}), Standard, 0.9, 1 - 0.11},
		// 0.9 and 0.8 score the same (row 9 adds nothing): NAB keeps the higher.
		{"tie keeps higher", scores(map[int]float64{8: 0.9, 9: 0.8}), Standard, 0.9, 1},
		// Firing costs more than it earns at every level under
		// reward_low_FP_rate: NAB's starting threshold (no detection).
		{"never fire", scores(fps), RewardLowFP, 1.1, -1},
		// Under reward_low_FN_rate firing on every row (threshold 0) pays.
		{"fire everywhere", scores(fps), RewardLowFN, 0, 1 - 5*0.11 + 0.11*fpTail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Optimize(c, tc.r, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Threshold != tc.threshold || math.Abs(rep.Raw-tc.raw) > 1e-12 {
				t.Errorf("threshold %v raw %v, want %v and %v", rep.Threshold, rep.Raw, tc.threshold, tc.raw)
			}
		})
	}
}

// TestOptimizeIsBest checks the sweep against brute force on the real corpus
// with synthetic results: no candidate threshold scores higher than the one
// Optimize picks, and the sweep's running total equals Score's.
func TestOptimizeIsBest(t *testing.T) {
	c, _ := sharedCorpus(t)
	r := make(Results)
	seed := uint64(1)
	for _, f := range c.Files {
		s := make([]float64, len(f.Timestamps))
		for i := range s {
			seed = seed*6364136223846793005 + 1442695040888963407
			s[i] = float64(seed>>59) / 31 // 32 distinct levels in [0, 1]
		}
		r[f.Name] = s
	}
	bests, err := OptimizeAll(c, r)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := c.flatten(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, best := range bests {
		p := best.Profile
		if sweepRaw := c.sweepBest(c.sortedRows(scores), p); math.Abs(sweepRaw-best.Raw) > 1e-9 {
			t.Errorf("%s: sweep total %v, Score total %v at %v", p.Name, sweepRaw, best.Raw, best.Threshold)
		}
		for k := 0; k <= 32; k++ {
			thr := float64(k) / 31
			if rep := c.score(scores, p, thr); rep.Raw > best.Raw+1e-9 {
				t.Errorf("%s: threshold %v scores %v, above the optimum %v at %v", p.Name, thr, rep.Raw, best.Raw, best.Threshold)
			}
		}
	}
}

func TestCorpusFacts(t *testing.T) {
	c, _ := sharedCorpus(t)
	type facts struct{ Files, Rows, Windows, Scored, NoWindow int }
	got := facts{Files: len(c.Files), Rows: c.Rows(), Windows: c.Windows(), Scored: c.scored}
	for _, f := range c.Files {
		if len(f.Windows) == 0 {
			got.NoWindow++
		}
	}
	// /work/shared/nab/README.md: 58 series, 365,558 rows, 116 windows, six
	// series without a window.
	if diff := cmp.Diff(facts{58, 365558, 116, 116, 6}, got); diff != "" {
		t.Errorf("corpus (-want +got):\n%s", diff)
	}
	// machine_temperature_system_failure goes back 55 minutes once; the row
	// stays where it is.
	f, ok := c.File("realKnownCause/machine_temperature_system_failure.csv")
	if !ok {
		t.Fatal("no machine_temperature_system_failure.csv")
	}
	back := 0
	for i := 1; i < len(f.Timestamps); i++ {
		if d := f.Timestamps[i] - f.Timestamps[i-1]; d < 0 {
			back++
			if d != -55*60 {
				t.Errorf("row %d goes back %d s, want 3300", i, -d)
			}
		}
	}
	if back != 1 {
		t.Errorf("%d backward steps, want 1", back)
	}
}

// writeFiles writes name -> content under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dataCSV renders rows "timestamp,value" as a data file, without a final
// newline when open is true (as seven of NAB's files are).
func dataCSV(ts []string, open bool) string {
	var b strings.Builder
	b.WriteString("timestamp,value")
	for i, t := range ts {
		b.WriteString("\n" + t + "," + strconv.Itoa(i))
	}
	if !open {
		b.WriteString("\n")
	}
	return b.String()
}

// TestLoadQuirks loads a corpus whose file repeats a timestamp, goes back in
// time and has no final newline, and checks that every row is kept in file
// order and that the window follows NAB's row walk.
func TestLoadQuirks(t *testing.T) {
	ts := []string{
		"2014-03-09 01:00:00", "2014-03-09 01:05:00", "2014-03-09 01:10:00", "2014-03-09 01:15:00",
		"2014-03-09 01:20:00", "2014-03-09 01:25:00", "2014-03-09 01:25:00", "2014-03-09 01:30:00",
		"2014-03-09 01:35:00", "2014-03-09 01:00:00", "2014-03-09 01:40:00", "2014-03-09 01:45:00",
		"2014-03-09 01:50:00", "2014-03-09 01:55:00",
	}
	dir := writeFiles(t, map[string]string{
		"data/cat/quirky.csv": dataCSV(ts, true),
		"data/cat/extra.csv":  dataCSV(ts[:3], false), // not in the windows file: not loaded
		"labels.json":         `{"cat/quirky.csv": [["2014-03-09 01:25:00.000000", "2014-03-09 01:40:00.000000"]]}`,
	})
	c, err := LoadCorpus(filepath.Join(dir, "data"), filepath.Join(dir, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 1 {
		t.Fatalf("%d files, want 1", len(c.Files))
	}
	f := c.Files[0]
	var want []int64
	for _, s := range ts {
		v, err := ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	if diff := cmp.Diff(want, f.Timestamps); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, f.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if f.Probation != 2 {
		t.Errorf("probation %d, want 2", f.Probation)
	}
	// The window runs from the first 01:25 row (5) to the 01:40 row (10):
	// width 6, so row i is worth σ(−(10−i+1)/6); row 11 follows it at
	// distance 1/(6−1).
	wantWin := []int32{rowProbation, rowProbation, rowOutside, rowOutside, rowOutside, 0, 0, 0, 0, 0, 0, rowOutside, rowOutside, rowOutside}
	if diff := cmp.Diff(wantWin, c.win); diff != "" {
		t.Errorf("rows' windows (-want +got):\n%s", diff)
	}
	for i := 5; i <= 10; i++ {
		if got, w := c.u[i], σ(-float64(10-i+1)/6); math.Abs(got-w) > 1e-15 {
			t.Errorf("row %d: u %v, want %v", i, got, w)
		}
	}
	if got, w := c.u[13], σ(3.0/5); math.Abs(got-w) > 1e-15 {
		t.Errorf("row 13: u %v, want %v", got, w)
	}
	if got := c.u[2]; got != -1 {
		t.Errorf("row 2 (before any window): u %v, want -1", got)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	c := toy(t)
	r := at(8, 15)
	r["cat/toy.csv"][3] = 0.1234567890123456789
	r["cat/toy.csv"][4] = 1e-7
	for _, detector := range []string{"", "kale"} {
		dir := t.TempDir()
		if err := WriteResults(dir, detector, c, r); err != nil {
			t.Fatal(err)
		}
		name := "toy.csv"
		if detector != "" {
			name = detector + "_toy.csv"
		}
		if _, err := os.Stat(filepath.Join(dir, "cat", name)); err != nil {
			t.Errorf("detector %q: %v", detector, err)
		}
		got, err := LoadResults(dir, detector, c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("detector %q (-want +got):\n%s", detector, diff)
		}
	}
	// A named detector falls back to Kale's layout.
	dir := t.TempDir()
	if err := WriteResults(dir, "", c, r); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadResults(dir, "kale", c); err != nil {
		t.Errorf("fallback to <category>/<name>.csv: %v", err)
	}
}

// TestResultsColumns reads NAB's full result layout (extra columns, S(t)
// columns) and a file without timestamps.
func TestResultsColumns(t *testing.T) {
	ts, scores, err := ReadScores(strings.NewReader("timestamp,value,anomaly_score,label,S(t)_standard\n" +
		"2014-04-01 00:00:00,5,0.25,0,-0.11\n2014-04-01 00:05:00,6,1.0,1,0.9"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{t0, t0 + 300}, ts); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{0.25, 1}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	ts, scores, err = ReadScores(strings.NewReader("anomaly_score\n0\n0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ts != nil || !cmp.Equal([]float64{0, 0.5}, scores) {
		t.Errorf("got %v %v, want nil [0 0.5]", ts, scores)
	}
}

func TestErrors(t *testing.T) {
	good := dataCSV([]string{"2014-04-01 00:00:00", "2014-04-01 00:05:00", "2014-04-01 00:10:00", "2014-04-01 00:15:00"}, false)
	labels := `{"cat/a.csv": [["2014-04-01 00:05:00.000000", "2014-04-01 00:15:00.000000"]]}`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  error
	}{
		{"missing data file", map[string]string{"labels.json": labels}, os.ErrNotExist},
		{"no labels", map[string]string{"data/cat/a.csv": good}, os.ErrNotExist},
		{"labels not JSON", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [`}, ErrFormat},
		{"window of three", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:05:00", "2014-04-01 00:10:00", "2014-04-01 00:15:00"]]}`}, ErrFormat},
		{"window backwards", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:15:00", "2014-04-01 00:05:00"]]}`}, ErrFormat},
		{"window fraction", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:05:00.5", "2014-04-01 00:15:00"]]}`}, ErrFormat},
		{"window end not in file", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:05:00", "2014-04-01 00:12:00"]]}`}, ErrWindow},
		{"window start not in file", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:06:00", "2014-04-01 00:15:00"]]}`}, ErrWindow},
		{"window one row", map[string]string{"data/cat/a.csv": good, "labels.json": `{"cat/a.csv": [["2014-04-01 00:05:00", "2014-04-01 00:05:00"]]}`}, ErrWindow},
		{"escaping name", map[string]string{"data/cat/a.csv": good, "labels.json": `{"../a.csv": []}`}, ErrFormat},
		{"bad header", map[string]string{"data/cat/a.csv": "time,value\n2014-04-01 00:00:00,1\n", "labels.json": `{"cat/a.csv": []}`}, ErrFormat},
		{"bad timestamp", map[string]string{"data/cat/a.csv": "timestamp,value\n2014-04-31 00:00:00,1\n", "labels.json": `{"cat/a.csv": []}`}, ErrFormat},
		{"bad value", map[string]string{"data/cat/a.csv": "timestamp,value\n2014-04-01 00:00:00,NaN\n", "labels.json": `{"cat/a.csv": []}`}, ErrFormat},
		{"short row", map[string]string{"data/cat/a.csv": "timestamp,value\n2014-04-01 00:00:00\n", "labels.json": `{"cat/a.csv": []}`}, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := LoadCorpus(filepath.Join(dir, "data"), filepath.Join(dir, "labels.json"))
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}

	c := toy(t)
	for _, tc := range []struct {
		name string
		r    Results
	}{
		{"missing file", Results{}},
		{"extra file", Results{"cat/toy.csv": make([]float64, 20), "cat/other.csv": nil}},
		{"short", Results{"cat/toy.csv": make([]float64, 19)}},
		{"above 1", Results{"cat/toy.csv": append(make([]float64, 19), 1.5)}},
		{"NaN", Results{"cat/toy.csv": append(make([]float64, 19), math.NaN())}},
	} {
		t.Run("score "+tc.name, func(t *testing.T) {
			if _, err := Score(c, tc.r, Standard, 0.5); !errors.Is(err, ErrMismatch) {
				t.Errorf("Score: error %v, want ErrMismatch", err)
			}
			if _, err := Optimize(c, tc.r, Standard); !errors.Is(err, ErrMismatch) {
				t.Errorf("Optimize: error %v, want ErrMismatch", err)
			}
			if err := WriteResults(t.TempDir(), "", c, tc.r); !errors.Is(err, ErrMismatch) {
				t.Errorf("WriteResults: error %v, want ErrMismatch", err)
			}
		})
	}

	ts := make([]string, 20)
	for i, v := range steps(20) {
		ts[i] = FormatTime(v)
	}
	shifted := append(append([]string{}, ts[:19]...), "2015-01-01 00:00:00")
	for _, tc := range []struct {
		name, content string
		want          error
	}{
		{"short", "anomaly_score\n0\n", ErrMismatch},
		{"timestamp differs", strings.Replace(dataCSV(shifted, false), "timestamp,value", "timestamp,anomaly_score", 1), ErrFormat},
		{"wrong timestamp", func() string {
			var b strings.Builder
			b.WriteString("timestamp,anomaly_score\n")
			for _, s := range shifted {
				b.WriteString(s + ",0\n")
			}
			return b.String()
		}(), ErrMismatch},
		{"no score column", "timestamp,value\n", ErrFormat},
		{"negative score", "anomaly_score\n-0.1\n", ErrFormat},
	} {
		t.Run("load "+tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"cat/toy.csv": tc.content})
			if _, err := LoadResults(dir, "", c); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ProfileByName("nope"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("ProfileByName: error %v, want ErrUnknownProfile", err)
	}
	for _, p := range Profiles() {
		if got, err := ProfileByName(p.Name); err != nil || got != p {
			t.Errorf("ProfileByName(%q) = %v, %v", p.Name, got, err)
		}
	}
}
