package nab

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// sharedNAB returns the directory of the shared NAB corpus: $KALE_SHARED/nab,
// or ../shared/nab next to the repository root (the directory holding
// go.mod). It skips the test when the corpus is absent, as in a user's clone.
func sharedNAB(t testing.TB) string {
	t.Helper()
	if s := os.Getenv("KALE_SHARED"); s != "" {
		dir := filepath.Join(s, "nab")
		if _, err := os.Stat(filepath.Join(dir, "labels", "combined_windows.json")); err != nil {
			t.Fatalf("KALE_SHARED=%s has no NAB corpus: %v", s, err)
		}
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			nab := filepath.Join(filepath.Dir(dir), "shared", "nab")
			if _, err := os.Stat(filepath.Join(nab, "labels", "combined_windows.json")); err != nil {
				t.Skipf("no NAB corpus at %s (set KALE_SHARED to the directory holding nab/): %v", nab, err)
			}
			return nab
		}
		if filepath.Dir(dir) == dir {
			t.Skipf("no go.mod above %s, so no ../shared/nab; set KALE_SHARED to the directory holding nab/", wd)
		}
	}
}

var (
	corpusOnce sync.Once
	corpus     *Corpus
	corpusErr  error
)

// sharedCorpus loads the shared NAB corpus once for all tests.
func sharedCorpus(t testing.TB) (*Corpus, string) {
	t.Helper()
	dir := sharedNAB(t)
	corpusOnce.Do(func() {
		corpus, corpusErr = LoadCorpus(filepath.Join(dir, "data"), filepath.Join(dir, "labels", "combined_windows.json"))
	})
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpus, dir
}

// TestPublishedScores checks that scoring the reference detectors' shipped
// results (results/<detector>/, as NAB ships them) with an optimised threshold
// reproduces NAB's published scoreboard (results/final_results.json) to 0.01
// for every detector present in both.
func TestPublishedScores(t *testing.T) {
	c, dir := sharedCorpus(t)
	raw, err := os.ReadFile(filepath.Join(dir, "results", "final_results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var published map[string]map[string]float64
	if err := json.Unmarshal(raw, &published); err != nil {
		t.Fatal(err)
	}
	// NAB's shipped final_results.json gives numenta's reward_low_FP_rate as
	// 63.1168, scored with an older threshold; NAB's own scorer run with
	// --optimize on the shipped results gives 63.2092
	// (/work/shared/nab/README.md, "Reference results").
	reoptimised := map[string]map[string]float64{"numenta": {"reward_low_FP_rate": 63.2092}}
	entries, err := os.ReadDir(filepath.Join(dir, "results"))
	if err != nil {
		t.Fatal(err)
	}
	tested := 0
	for _, e := range entries {
		det := e.Name()
		want, ok := published[det]
		if !e.IsDir() || !ok {
			continue
		}
		tested++
		t.Run(det, func(t *testing.T) {
			r, err := LoadResults(filepath.Join(dir, "results", det), det, c)
			if err != nil {
				t.Fatal(err)
			}
			reps, err := OptimizeAll(c, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, rep := range reps {
				w, ok := reoptimised[det][rep.Profile.Name]
				if !ok {
					w = want[rep.Profile.Name]
				}
				t.Logf("%-18s %-18s threshold %.6f raw %9.4f normalised %8.4f published %8.4f (diff %+.1e) windows %d/%d",
					det, rep.Profile.Name, rep.Threshold, rep.Raw, rep.Normalized, want[rep.Profile.Name],
					rep.Normalized-want[rep.Profile.Name], rep.WindowsDetected, rep.Windows)
				if math.Abs(rep.Normalized-w) > 0.01 {
					t.Errorf("%s %s: normalised score %.4f, want %.4f ± 0.01", det, rep.Profile.Name, rep.Normalized, w)
				}
			}
			if det != "numenta" {
				return
			}
			// The shipped 63.1168 itself is the score at one older
			// threshold (0.575335555563, the only candidate that gives it,
			// found by scanning every candidate; NAB's thresholds.json is not
			// in the shared copy): Score at a fixed threshold agrees with
			// NAB to far better than 0.01.
			rep, err := Score(c, r, RewardLowFP, 0.575335555563)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("numenta reward_low_FP_rate at threshold 0.575335555563: %.10f, shipped %.10f", rep.Normalized, want[RewardLowFP.Name])
			if math.Abs(rep.Normalized-want[RewardLowFP.Name]) > 1e-6 {
				t.Errorf("numenta reward_low_FP_rate at 0.575335555563: %.10f, want %.10f", rep.Normalized, want[RewardLowFP.Name])
			}
		})
	}
	if tested == 0 {
		t.Fatalf("no detector directory under %s is listed in final_results.json", filepath.Join(dir, "results"))
	}
}
