package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kale/kale/algorithms"
	"github.com/go-kale/kale/internal/nab"
	"github.com/go-kale/kale/internal/progress"
	"github.com/go-kale/kale/internal/replay"
)

// benchNAB replays the NAB corpus through a profile, as the streaming
// analyzer would see each series, writes the scores in NAB's layout and
// scores them with the Go NAB scorer: at NAB's optimised threshold and at
// the profile's own alert threshold.
func benchNAB(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kale bench nab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "default", "classic or default")
	out := fs.String("out", "", "write results here as <category>/<file>.csv (timestamp,anomaly_score)")
	data := fs.String("data", "", "NAB data directory (default: ../shared/nab/data from the repository root)")
	labels := fs.String("labels", "", "NAB windows file (default: <data>/../labels/combined_windows.json)")
	fullDuration, suppress := profileSettingFlags(fs)
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "files replayed at once")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench nab: %v\n", err)
		return 1
	}
	if *data == "" {
		dir, err := sharedPath("nab", "data")
		if err != nil {
			return fail(fmt.Errorf("%v; pass --data DIR (NAB's data directory)", err))
		}
		*data = dir
	}
	if *labels == "" {
		*labels = filepath.Join(*data, "..", "labels", "combined_windows.json")
	}
	settings, err := resolveSettings(*profile, fullDuration, suppress)
	if err != nil {
		fmt.Fprintf(stderr, "kale bench nab: %v\n", err)
		return exitUsage
	}
	e, err := algorithms.Profile(*profile, int64(settings.History.Seconds()))
	if err != nil {
		fmt.Fprintf(stderr, "kale bench nab: %v\n", err)
		return exitUsage
	}
	c, err := nab.LoadCorpus(*data, *labels)
	if err != nil {
		return fail(err)
	}
	opt := replayOptions(settings)

	results := make(nab.Results, len(c.Files))
	var mu sync.Mutex
	var done atomic.Int64
	jobs := make(chan *nab.File)
	var wg sync.WaitGroup
	prog := progress.New(stderr, "rows", int64(c.Rows()))
	start := time.Now()
	for range max(1, *workers) {
		wg.Go(func() {
			var rows []replay.Row
			for f := range jobs {
				rows = replay.Run(e, f.Timestamps, f.Values, opt, rows)
				scores := make([]float64, len(rows))
				for i, r := range rows {
					scores[i] = r.Score
				}
				mu.Lock()
				results[f.Name] = scores
				mu.Unlock()
				done.Add(int64(len(rows)))
			}
		})
	}
	go func() {
		for _, f := range c.Files {
			jobs <- f
		}
		close(jobs)
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	prog.Follow(finished, 200*time.Millisecond, done.Load)
	elapsed := time.Since(start)

	if *out != "" {
		if err := nab.WriteResults(*out, "", c, results); err != nil {
			return fail(err)
		}
	}
	optimised, err := nab.OptimizeAll(c, results)
	if err != nil {
		return fail(err)
	}
	alertThreshold := e.AlertThreshold() // Score >= it exactly when the ensemble alerts
	var fixed []nab.Report
	for _, p := range nab.Profiles() {
		r, err := nab.Score(c, results, p, alertThreshold)
		if err != nil {
			return fail(err)
		}
		fixed = append(fixed, r)
	}
	fmt.Fprintf(stderr, "NAB v1.1, %d files, %d rows, profile %s, full duration %v, suppress %v: replayed in %.1fs\n",
		len(c.Files), c.Rows(), *profile, settings.History, settings.AlertExpiration, elapsed.Seconds())
	fmt.Fprintf(stderr, "%-20s %10s %10s %8s %8s    %10s %8s %8s\n", "profile", "optimised", "threshold", "TP", "FP", "fixed", "TP", "FP")
	for i, r := range optimised {
		f := fixed[i]
		fmt.Fprintf(stderr, "%-20s %10.2f %10.4f %8d %8d    %10.2f %8d %8d\n",
			r.Profile.Name, r.Normalized, r.Threshold, r.TP, r.FP, f.Normalized, f.TP, f.FP)
	}
	fmt.Fprintf(stdout, "RESULT standard=%.2f reward_low_FP_rate=%.2f reward_low_FN_rate=%.2f standard_fixed=%.2f reward_low_FP_rate_fixed=%.2f reward_low_FN_rate_fixed=%.2f profile=%s full_duration=%d suppress=%d alert_threshold=%.4f seconds=%.1f\n",
		optimised[0].Normalized, optimised[1].Normalized, optimised[2].Normalized,
		fixed[0].Normalized, fixed[1].Normalized, fixed[2].Normalized, *profile,
		int64(settings.History/time.Second), int64(settings.AlertExpiration/time.Second), alertThreshold, elapsed.Seconds())
	return 0
}

// sharedPath finds ../shared/<elem...> beside the repository root (the
// first directory holding a go.mod at or above the working directory), or
// under $KALE_SHARED.
func sharedPath(elem ...string) (string, error) {
	if env := os.Getenv("KALE_SHARED"); env != "" {
		p := filepath.Join(append([]string{env}, elem...)...)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("KALE_SHARED=%s has no %s", env, filepath.Join(elem...))
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(append([]string{dir, "..", "shared"}, elem...)...)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no %s beside the repository (a user's clone has none)", filepath.Join(append([]string{"../shared"}, elem...)...))
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside a Kale checkout, so ../shared cannot be found")
		}
		dir = parent
	}
}
