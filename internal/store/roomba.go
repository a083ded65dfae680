package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RunRoomba calls s.Trim once right away (a restarted store may hold data
// that expired while it was down) and then every interval, until ctx is
// done. now gives the wall clock (time.Now in production).
func RunRoomba(ctx context.Context, s Store, interval time.Duration, now func() time.Time,
	logger *slog.Logger, reg prometheus.Registerer) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "kale", Subsystem: "roomba", Name: "pass_duration_seconds",
		Help:    "Time one Roomba pass over the store took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	removed := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "kale", Subsystem: "roomba", Name: "points_removed_total",
		Help: "Points Roomba removed: older than full duration plus grace, or replaced by a later write.",
	})
	deleted := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "kale", Subsystem: "roomba", Name: "metrics_deleted_total",
		Help: "Metrics Roomba deleted because no data was left.",
	})
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "kale", Subsystem: "roomba", Name: "failures_total",
		Help: "Roomba passes that failed.",
	})
	if reg != nil {
		reg.MustRegister(duration, removed, deleted, failures)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		st, err := s.Trim(ctx, now().Unix())
		duration.Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures.Inc()
			logger.Warn("roomba pass failed; next pass retries", "err", err)
		} else {
			removed.Add(float64(st.PointsRemoved))
			deleted.Add(float64(st.Deleted))
			logger.Debug("roomba pass", "metrics", st.Metrics, "points_removed", st.PointsRemoved,
				"metrics_deleted", st.Deleted, "seconds", time.Since(start).Seconds())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
