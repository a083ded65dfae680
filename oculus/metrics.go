package oculus

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are Oculus's self-metrics. A nil *Metrics records nothing.
type Metrics struct {
	importSeconds prometheus.Gauge
	imports       *prometheus.CounterVec
	indexed       prometheus.Gauge
	skipped       *prometheus.CounterVec
	lastImport    prometheus.Gauge
	progressRatio prometheus.Gauge
	searchSeconds *prometheus.HistogramVec
}

// NewMetrics registers Oculus's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		importSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_oculus_import_duration_seconds",
			Help: "How long the last completed Oculus import took."}),
		imports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_oculus_imports_total",
			Help: "Oculus imports, by result (ok, error)."}, []string{"result"}),
		indexed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_oculus_indexed_metrics",
			Help: "Metric shapes in the current Oculus index generation."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_oculus_skipped_metrics_total",
			Help: "Metrics left out of an import, by reason (too_few_points, corrupt)."}, []string{"reason"}),
		lastImport: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_oculus_last_import_timestamp_seconds",
			Help: "When the last Oculus import completed (UNIX seconds)."}),
		progressRatio: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kale_oculus_import_progress_ratio",
			Help: "How far the running Oculus import is, 0 to 1 (1 when idle)."}),
		searchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kale_oculus_search_duration_seconds",
			Help:    "Time to answer a correlate or search request, by kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.importSeconds, m.imports, m.indexed, m.skipped, m.lastImport, m.progressRatio, m.searchSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.progressRatio.Set(1)
	for _, r := range []string{"too_few_points", "corrupt"} {
		m.skipped.WithLabelValues(r)
	}
	m.imports.WithLabelValues("ok")
	m.imports.WithLabelValues("error")
	return m, nil
}

func (m *Metrics) progress(r float64) {
	if m != nil {
		m.progressRatio.Set(r)
	}
}

func (m *Metrics) imported(s ImportStats) {
	if m == nil {
		return
	}
	m.importSeconds.Set(s.Duration.Seconds())
	m.imports.WithLabelValues("ok").Inc()
	m.indexed.Set(float64(s.Indexed))
	m.skipped.WithLabelValues("too_few_points").Add(float64(s.TooFew))
	m.skipped.WithLabelValues("corrupt").Add(float64(s.Corrupt))
	m.lastImport.Set(float64(time.Now().Unix()))
	m.progressRatio.Set(1)
}

func (m *Metrics) failed() {
	if m != nil {
		m.imports.WithLabelValues("error").Inc()
		m.progressRatio.Set(1)
	}
}

func (m *Metrics) observe(kind string, start time.Time) {
	if m != nil {
		m.searchSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	}
}
