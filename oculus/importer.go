package oculus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// ImportStats reports one import.
type ImportStats struct {
	Window   Window
	Metrics  int // names listed in the store
	Indexed  int // shapes committed
	TooFew   int // metrics with fewer than MinPoints points in the window
	Corrupt  int // metrics whose stored data could not be read (at least 1 per batch that reported any)
	Duration time.Duration
}

// Import fingerprints every metric of st under cfg.Namespace over window
// w into a new generation of idx and commits it. Metrics with fewer than
// cfg.MinPoints points in w are left out (counted in TooFew); unreadable
// ones are left out, counted and the import still commits. m and logger
// may be nil. A long import logs its progress every 10 s.
func Import(ctx context.Context, st store.Store, idx Index, w Window, cfg Config, m *Metrics, logger *slog.Logger) (ImportStats, error) {
	start := time.Now()
	stats := ImportStats{Window: w}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	names, err := st.Names(ctx, cfg.Namespace)
	if err != nil {
		return stats, fmt.Errorf("cannot list the metrics: %w", err)
	}
	stats.Metrics = len(names)
	b, err := idx.Build(ctx, w, cfg.Points)
	if err != nil {
		return stats, err
	}
	abort := func(err error) (ImportStats, error) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if aerr := b.Abort(actx); aerr != nil {
			logger.Warn("oculus: cannot discard the unfinished index generation", "err", aerr)
		}
		return stats, err
	}
	var (
		buf      []float64
		docs     []Doc
		lastLog  = start
		batchErr error
	)
	m.progress(0)
	for lo := 0; lo < len(names); lo += cfg.BatchSize {
		batch := names[lo:min(lo+cfg.BatchSize, len(names))]
		docs = docs[:0]
		called := 0
		err := st.FetchBatch(ctx, batch, w.From, w.Until-1, func(i int, pts []series.Point) error {
			called++
			var d Doc
			var ok bool
			d, buf, ok = Shape(batch[i], pts, w, cfg.Points, cfg.MinPoints, buf)
			if !ok {
				stats.TooFew++
				return nil
			}
			docs = append(docs, d)
			return nil
		})
		if errors.Is(err, store.ErrCorrupt) {
			// The embedded store skips an unreadable metric; the Redis
			// store passes what it could read (and it was shaped above).
			stats.Corrupt += max(1, len(batch)-called)
			if batchErr == nil {
				batchErr = err
			}
		} else if err != nil {
			return abort(fmt.Errorf("cannot read the metrics: %w", err))
		}
		if err := b.Add(ctx, docs); err != nil {
			return abort(fmt.Errorf("cannot index the shapes: %w", err))
		}
		stats.Indexed += len(docs)
		done := lo + len(batch)
		m.progress(float64(done) / float64(len(names)))
		if now := time.Now(); now.Sub(lastLog) >= 10*time.Second {
			lastLog = now
			rate := float64(done) / now.Sub(start).Seconds()
			logger.Info("oculus import in progress", "done", done, "metrics", len(names),
				"eta", (time.Duration(float64(len(names)-done)/rate) * time.Second).Round(time.Second))
		}
	}
	if err := b.Commit(ctx); err != nil {
		return abort(fmt.Errorf("cannot switch to the new index: %w", err))
	}
	stats.Duration = time.Since(start)
	m.imported(stats)
	if batchErr != nil {
		logger.Warn("oculus import skipped unreadable metrics", "corrupt", stats.Corrupt, "err", batchErr)
	}
	return stats, nil
}
