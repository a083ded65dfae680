package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kale/kale/internal/parity"
	"github.com/go-kale/kale/internal/progress"
)

// benchGen writes a parity corpus file (../shared/parity/README.md) and
// prints its digests. When the parameters are those of a shared corpus
// (found through parity.SharedDir), the digests must match its .json, or
// the command fails and leaves no file. The file is written next to --out
// and renamed into place once complete and checked.
func benchGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kale bench gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	metrics := fs.Int("metrics", 1000, "metrics (M)")
	points := fs.Int("points", 8640, "points per metric (N)")
	step := fs.Int64("step", 10, "seconds between points (STEP)")
	seed := fs.Uint64("seed", 42, "generator seed (SEED)")
	t0 := fs.Int64("t0", parity.DefaultT0, "first timestamp, UNIX seconds (T0)")
	frac := fs.Float64("anomaly-fraction", parity.DefaultAnomalyFraction, "share of metrics given an anomalous tail")
	out := fs.String("out", "", "corpus file to write (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: kale bench gen --metrics M --points N --step S --seed SEED --out FILE")
		return exitUsage
	}
	p := parity.Params{Metrics: *metrics, Points: *points, T0: *t0, Step: *step, Seed: *seed, AnomalyFraction: *frac}
	if err := p.Validate(); err != nil {
		fmt.Fprintf(stderr, "kale bench gen: %v\n", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench gen: %v\n", err)
		return 1
	}

	// The shared corpus with these parameters, if any.
	var ref *parity.CorpusInfo
	if dir, err := parity.SharedDir(); err == nil {
		c, ok, err := parity.FindCorpus(dir, p)
		if err != nil {
			return fail(err)
		}
		if ok {
			ref = &c
		}
	} else {
		progress.Printf(stderr, "no shared corpora to check against: %v\n", err)
	}

	// Write to a temporary file next to out, unless out is a device or pipe.
	dst := *out
	direct := false
	if st, err := os.Stat(*out); err == nil && !st.Mode().IsRegular() {
		direct = true
	}
	var f *os.File
	var err error
	if direct {
		f, err = os.OpenFile(*out, os.O_WRONLY, 0)
	} else {
		f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp*")
		if err == nil {
			dst = f.Name()
			defer os.Remove(dst) // no-op after the rename
		}
	}
	if err != nil {
		return fail(fmt.Errorf("cannot create output: %w", err))
	}
	defer f.Close()

	progress.Printf(stderr, "generating %d metrics x %d points (%.1f MB) into %s\n", p.Metrics, p.Points, float64(p.Size())/1e6, *out)
	bar := progress.New(stderr, "metrics", int64(p.Metrics))
	cw := &countingWriter{w: f, per: 8 * int64(p.Points), bar: bar}
	start := time.Now()
	sums, err := parity.Generate(cw, p)
	if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil && !direct {
		return fail(fmt.Errorf("cannot sync %s: %w", dst, err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("cannot close %s: %w", dst, err))
	}
	elapsed := time.Since(start)
	bar.Done(int64(p.Metrics))

	check, extra := "none", ""
	var mismatch error
	if ref != nil {
		extra = " reference=" + ref.Name()
		if mismatch = ref.Check(sums); mismatch != nil {
			check = "MISMATCH"
		} else {
			check = "ok"
		}
	}
	if mismatch == nil && !direct {
		if err := os.Chmod(dst, 0o644); err != nil {
			return fail(err)
		}
		if err := os.Rename(dst, *out); err != nil {
			return fail(fmt.Errorf("cannot move the corpus into place: %w", err))
		}
	}
	total := float64(p.Metrics) * float64(p.Points)
	progress.Printf(stderr, "%.0f points in %.2fs: %.1f M points/s, %.0f MB/s\n",
		total, elapsed.Seconds(), total/elapsed.Seconds()/1e6, float64(p.Size())/elapsed.Seconds()/1e6)
	fmt.Fprintf(stdout, "RESULT sha256_values=%s sha256_file=%s metrics=%d points=%d seconds=%.3f step=%d seed=%d t0=%d anomaly_fraction=%g points_per_sec=%.0f tails=%d check=%s%s\n",
		sums.ValuesHex(), sums.FileHex(), p.Metrics, p.Points, elapsed.Seconds(), p.Step, p.Seed, p.T0, p.AnomalyFraction,
		total/elapsed.Seconds(), len(p.TailMetrics()), check, extra)
	if mismatch != nil {
		what := "no file written"
		if direct {
			what = *out + " does not hold it"
		}
		fmt.Fprintf(stderr, "kale bench gen: SHA-256 MISMATCH: this build does not reproduce the shared corpus %s bit for bit (%s):\n%v\n", ref.Name(), what, mismatch)
		return 1
	}
	return 0
}

// countingWriter passes writes through and reports whole metrics written
// (after the header) to a progress bar.
type countingWriter struct {
	w   io.Writer
	n   int64
	per int64
	bar *progress.Bar
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.bar.Update(max(0, c.n-parity.HeaderSize) / c.per)
	return n, err
}
