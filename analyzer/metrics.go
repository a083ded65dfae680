package analyzer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the analyzer's Prometheus metrics (kale_analyzer_*). One
// value serves one Analyzer.
type Metrics struct {
	m *metrics
}

type metrics struct {
	cycles, failures, overruns, analysed, anomalies prometheus.Counter
	duration                                        prometheus.Histogram
	metrics                                         prometheus.Gauge
	exceptions                                      *prometheus.CounterVec
}

// NewMetrics creates the analyzer's metrics and registers them with reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	if reg != nil {
		for _, c := range []prometheus.Collector{m.cycles, m.failures, m.overruns, m.analysed, m.anomalies,
			m.duration, m.metrics, m.exceptions} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return &Metrics{m: m}, nil
}

func newMetrics() *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kale", Subsystem: "analyzer", Name: name, Help: help})
	}
	m := &metrics{
		cycles:    counter("cycles_total", "Analyzer cycles finished."),
		failures:  counter("cycle_failures_total", "Analyzer cycles that failed (the store could not be read)."),
		overruns:  counter("cycle_overruns_total", "Cycles that took longer than analyzer.interval."),
		analysed:  counter("metrics_analysed_total", "Metrics judged by the ensemble (not stopped by a pre-check)."),
		anomalies: counter("anomalies_total", "Anomalous verdicts."),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kale", Subsystem: "analyzer", Name: "cycle_duration_seconds",
			Help:    "Time a cycle took: list, read and judge every metric.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300},
		}),
		metrics: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kale", Subsystem: "analyzer", Name: "metrics",
			Help: "Metrics listed by the last cycle.",
		}),
		exceptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kale", Subsystem: "analyzer", Name: "exceptions_total",
			Help: "Metrics not judged, by reason: TooShort, Stale, Boring (pre-checks), Deleted (gone between listing and reading, or undecodable), ReadError (its batch could not be read), Other.",
		}, []string{"reason"}),
	}
	for _, r := range exceptionReasons {
		m.exceptions.WithLabelValues(r)
	}
	return m
}

// orNop returns the metrics, or unregistered ones for nil.
func (m *Metrics) orNop() *metrics {
	if m == nil || m.m == nil {
		return newMetrics()
	}
	return m.m
}
