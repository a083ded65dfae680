package horizon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Listener names, the "listener" label of Horizon's metrics.
const (
	listenerPickle       = "pickle"
	listenerMsgpack      = "msgpack"
	listenerPlaintextTCP = "plaintext_tcp"
	listenerPlaintextUDP = "plaintext_udp"
	listenerKafka        = "kafka"
	// listenerWriter labels points lost after batches of several listeners
	// were merged for writing.
	listenerWriter = "writer"
)

type metrics struct {
	received    *prometheus.CounterVec // listener
	rejected    *prometheus.CounterVec // listener, reason
	dropped     *prometheus.CounterVec // listener, reason
	badFrames   *prometheus.CounterVec // listener
	connections *prometheus.GaugeVec   // listener
	written     prometheus.Counter
	queued      prometheus.Gauge
	storeErrors prometheus.Counter
	storeWrite  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "kale", "horizon"
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "points_received_total",
			Help: "Points received, accepted or not, by listener.",
		}, []string{"listener"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "points_rejected_total",
			Help: "Points refused as bad input or by the filters, by listener and reason.",
		}, []string{"listener", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "points_dropped_total",
			Help: "Good points Kale could not keep, by listener and reason: queue_full (UDP only), store_unavailable (shutdown gave up on a failing store).",
		}, []string{"listener", "reason"}),
		badFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bad_frames_total",
			Help: "Frames or datagrams that could not be decoded at all; a bad TCP frame closes its connection.",
		}, []string{"listener"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "connections",
			Help: "Open TCP connections by listener.",
		}, []string{"listener"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "points_written_total",
			Help: "Points written to the store.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "queue_points",
			Help: "Points waiting between the listeners and the store.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "store_errors_total",
			Help: "Failed store writes; the batch is retried, so TCP senders wait rather than lose points.",
		}),
		storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "store_write_duration_seconds",
			Help:    "Latency of one batch write to the store.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.rejected, m.dropped, m.badFrames, m.connections,
			m.written, m.queued, m.storeErrors, m.storeWrite)
	}
	return m
}
