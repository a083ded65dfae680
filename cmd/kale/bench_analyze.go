package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kale/kale/algorithms"
	"github.com/go-kale/kale/internal/parity"
	"github.com/go-kale/kale/internal/progress"
)

// benchAnalyze runs a profile over every metric of a parity corpus file
// (kale bench gen), as Skyline's Analyzer would: one verdict per metric at
// now = the last timestamp, with FULL_DURATION = points x step. It reports
// milliseconds per metric per core and, when the corpus is one of the
// shared ones, the agreement with Etsy Skyline's recorded verdicts.
func benchAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kale bench analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataset := fs.String("dataset", "", "corpus file written by kale bench gen")
	profile := fs.String("profile", "classic", "classic or default")
	verdictsPath := fs.String("verdicts", "", "write verdicts here, in the format of ../shared/parity/*.skyline.jsonl")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines analysing metrics")
	metrics := fs.Int("metrics", 0, "instead of --dataset: fill a store with this many synthetic metrics and time analyzer cycles over it")
	points := fs.Int("points", 1440, "with --metrics: points per metric, 60 s apart, ending now")
	backend := fs.String("store", "embedded", "with --metrics: embedded or redis")
	redisURL := fs.String("redis", "", "with --metrics --store redis: Redis to use (empty: start a local redis-server)")
	cycles := fs.Int("cycles", 3, "with --metrics: cycles to time (the median is reported)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	switch {
	case *dataset != "" && *metrics > 0:
		fmt.Fprintln(stderr, "kale bench analyze: give --dataset FILE or --metrics N, not both")
		return exitUsage
	case *metrics > 0:
		return benchCycle(cycleBench{metrics: *metrics, points: *points, cycles: *cycles, profile: *profile,
			workers: *workers, backend: *backend, redisURL: *redisURL}, stdout, stderr)
	case *dataset == "":
		fmt.Fprintln(stderr, "kale bench analyze: --dataset FILE (make one with kale bench gen) or --metrics N is required")
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench analyze: %v\n", err)
		return 1
	}
	d, err := parity.Open(*dataset)
	if err != nil {
		return fail(err)
	}
	defer d.Close()
	p := d.Params
	t := d.Times()
	now := t[len(t)-1]
	e, err := algorithms.Profile(*profile, int64(p.Points)*p.Step)
	if err != nil {
		fmt.Fprintf(stderr, "kale bench analyze: %v\n", err)
		return exitUsage
	}
	if *workers < 1 {
		*workers = 1
	}

	verdicts := make([]parity.Verdict, p.Metrics)
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	prog := progress.New(stderr, "metrics", int64(p.Metrics))
	start := time.Now()
	per := (p.Metrics + *workers - 1) / *workers
	for w := range *workers {
		wg.Go(func() {
			it := d.Range(w*per, (w+1)*per)
			var s algorithms.Scratch
			var out algorithms.Verdict
			for it.Next() {
				e.Analyze(t, it.Values(), now, &s, &out)
				v := parity.Verdict{Metric: it.Metric(), Anomalous: out.Anomalous, Votes: make([]parity.Vote, len(out.Votes))}
				for i, vote := range out.Votes {
					v.Votes[i] = parity.Vote(vote)
				}
				verdicts[it.Metric()] = v
				done.Add(1)
			}
			if err := it.Err(); err != nil {
				errs <- err
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	prog.Follow(finished, 100*time.Millisecond, done.Load)
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return fail(err)
	default:
	}

	anomalous := 0
	for _, v := range verdicts {
		if v.Anomalous {
			anomalous++
		}
	}
	names := make([]string, len(e.Detectors))
	for i, det := range e.Detectors {
		names[i] = det.Name
	}
	header := parity.Header{Algorithms: names, Consensus: e.Consensus, FullDuration: int64(p.Points) * p.Step, Now: now}
	if *verdictsPath != "" {
		f, err := os.Create(*verdictsPath)
		if err != nil {
			return fail(err)
		}
		if err := parity.WriteVerdicts(f, header, verdicts); err != nil {
			f.Close()
			return fail(err)
		}
		if err := f.Close(); err != nil {
			return fail(err)
		}
	}
	// The clock covers reading each metric from the file and analysing it
	// (the analyzer too decodes what it fetches), on the cores in use.
	cores := min(*workers, runtime.GOMAXPROCS(0), p.Metrics)
	msPerMetricCore := elapsed.Seconds() * 1000 * float64(cores) / float64(p.Metrics)
	extra := ""
	if dir, err := parity.SharedDir(); err == nil && *profile == "classic" {
		if info, ok, _ := parity.FindCorpus(dir, p); ok {
			if f, err := os.Open(info.VerdictsPath()); err == nil {
				_, want, err := parity.ReadVerdicts(f)
				f.Close()
				if err == nil {
					r := parity.Compare(want, verdicts)
					extra = fmt.Sprintf(" skyline_metric_agreement=%.4f skyline_vote_agreement=%.4f reference=%s",
						r.MetricRate(), r.VoteRate(), info.Name())
					if progress.IsTerminal(stderr) {
						r.Format(stderr, names, 20)
					}
				}
			}
		}
	}
	progress.Printf(stderr, "%d metrics x %d points, profile %s, %d workers: %.3f s, %.4f ms per metric per core, %d anomalous\n",
		p.Metrics, p.Points, *profile, *workers, elapsed.Seconds(), msPerMetricCore, anomalous)
	fmt.Fprintf(stdout, "RESULT ms_per_metric_core=%.4f metrics=%d anomalous=%d profile=%s points=%d cores=%d seconds=%.3f%s\n",
		msPerMetricCore, p.Metrics, anomalous, *profile, p.Points, cores, elapsed.Seconds(), extra)
	return 0
}
