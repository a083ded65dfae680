package oculus

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-kale/kale/internal/store"
)

// Importer re-imports the store into the index every Config.Interval:
// `kale oculus` runs one, and so does `kale run`.
type Importer struct {
	st      store.Store
	idx     Index
	cfg     Config
	metrics *Metrics
	logger  *slog.Logger
	now     func() time.Time
}

// NewImporter returns an importer; m and logger may be nil, now defaults
// to time.Now.
func NewImporter(st store.Store, idx Index, cfg Config, m *Metrics, logger *slog.Logger, now func() time.Time) *Importer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Importer{st: st, idx: idx, cfg: cfg, metrics: m, logger: logger, now: now}
}

// Window is the window an import starting at now covers: the last
// Config.Window, ending at now (rounded down to the second).
func (im *Importer) Window(now time.Time) Window {
	u := now.Unix() + 1 // a point stamped this second is included
	return Window{From: u - int64(im.cfg.Window/time.Second), Until: u}
}

// ImportOnce runs one import over the window ending now.
func (im *Importer) ImportOnce(ctx context.Context) (ImportStats, error) {
	s, err := Import(ctx, im.st, im.idx, im.Window(im.now()), im.cfg, im.metrics, im.logger)
	if err != nil {
		im.metrics.failed()
		return s, err
	}
	im.logger.Info("oculus import done", "indexed", s.Indexed, "metrics", s.Metrics,
		"too_few_points", s.TooFew, "corrupt", s.Corrupt, "duration", s.Duration.Round(time.Millisecond))
	return s, nil
}

// Run imports at once, then every Config.Interval, until ctx is done. A
// failed import is logged and retried at the next tick; the index keeps
// its last good generation meanwhile.
func (im *Importer) Run(ctx context.Context) {
	t := time.NewTicker(im.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := im.ImportOnce(ctx); err != nil && ctx.Err() == nil {
			im.logger.Error("oculus import failed; searches use the previous index until the next import", "err", err,
				"next", im.cfg.Interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
