package redisstore

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's self-metrics, kale_store_redis_*.
type metrics struct {
	latency  *prometheus.HistogramVec // by op: append, names, fetch, fetch_batch, trim (one call)
	commands *prometheus.CounterVec   // Redis commands sent, by op
	errors   *prometheus.CounterVec   // failed calls, by op
	points   prometheus.Counter       // points appended
	bytes    prometheus.Counter       // value bytes appended
	created  prometheus.Counter       // keys created by Append (SADDed to the name set)
	corrupt  prometheus.Counter       // values found undecodable by Fetch, FetchBatch or Trim
	trimmed  *prometheus.CounterVec   // points removed by Trim, by namespace
	deleted  *prometheus.CounterVec   // keys deleted by Trim, by namespace
	retries  prometheus.Counter       // Trim rewrites refused because the key changed under it
}

// newMetrics builds the metrics and registers them with reg unless reg is
// nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "kale", "store_redis"
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "call_duration_seconds",
			Help:    "Duration of one store call (Append, Names, Fetch, FetchBatch, Trim) including its Redis round trips.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"op"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Redis commands sent, by purpose: append (APPENDs), sadd (name-set additions), names, fetch, fetch_batch, trim.",
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Store calls that failed on a Redis error, by store operation.",
		}, []string{"op"}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "appended_points_total",
			Help: "Points appended to series keys (mini copies not counted).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "appended_bytes_total",
			Help: "Bytes of msgpack appended to series keys (mini copies not counted).",
		}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "created_keys_total",
			Help: "Series keys created by Append and added to the unique_metrics set.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "malformed_values_total",
			Help: "Series values that did not decode as msgpack [ts, value] arrays (Fetch, FetchBatch or Trim), and keys FetchBatch found holding another type.",
		}),
		trimmed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "trimmed_points_total",
			Help: "Points removed by Trim (too old or replaced), by namespace.",
		}, []string{"namespace"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "deleted_keys_total",
			Help: "Series keys deleted by Trim because no data was left, by namespace.",
		}, []string{"namespace"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "trim_conflicts_total",
			Help: "Trim rewrites refused because the key was rewritten by someone else after it was read.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.latency, m.commands, m.errors, m.points, m.bytes,
		m.created, m.corrupt, m.trimmed, m.deleted, m.retries} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
