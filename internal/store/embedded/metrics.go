package embedded

import (
	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricsNamespace = "kale"
	metricsSubsystem = "store_embedded"
)

// metrics are the store's Prometheus metrics. They exist (and count) even
// when no registerer is given.
type metrics struct {
	walBytes         prometheus.Counter
	fsyncDuration    prometheus.Histogram
	walFailures      prometheus.Counter
	snapshotDuration prometheus.Histogram
	snapshotFailures prometheus.Counter
	corruptRecords   prometheus.Counter
	stats            *statsCollector
}

func newMetrics(s *Store) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	return &metrics{
		walBytes: prometheus.NewCounter(prometheus.CounterOpts(opts("wal_written_bytes_total",
			"Bytes written to the write-ahead logs."))),
		fsyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name:    "wal_fsync_duration_seconds",
			Help:    "Time taken by one fsync of a write-ahead log segment.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		walFailures: prometheus.NewCounter(prometheus.CounterOpts(opts("wal_failures_total",
			"Failed writes, flushes or fsyncs of the write-ahead logs."))),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name:    "snapshot_duration_seconds",
			Help:    "Time taken to write the snapshot of one shard.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		snapshotFailures: prometheus.NewCounter(prometheus.CounterOpts(opts("snapshot_failures_total",
			"Snapshots that could not be written."))),
		corruptRecords: prometheus.NewCounter(prometheus.CounterOpts(opts("wal_corrupt_records_total",
			"Write-ahead log records found torn or corrupt by Open, and snapshots found unreadable."))),
		stats: &statsCollector{
			s:      s,
			series: prometheus.NewDesc("kale_store_embedded_series", "Series held.", nil, nil),
			points: prometheus.NewDesc("kale_store_embedded_points", "Points held.", nil, nil),
			memory: prometheus.NewDesc("kale_store_embedded_memory_bytes", "Bytes the store holds for points (see Stats).", nil, nil),
		},
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.walBytes, m.fsyncDuration, m.walFailures, m.snapshotDuration,
		m.snapshotFailures, m.corruptRecords, m.stats}
}

// register registers every metric with reg, undoing on failure.
func (m *metrics) register(reg prometheus.Registerer) error {
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return err
		}
		done = append(done, c)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

// statsCollector exports Stats, computed once per scrape.
type statsCollector struct {
	s                      *Store
	series, points, memory *prometheus.Desc
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.series
	ch <- c.points
	ch <- c.memory
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.series, prometheus.GaugeValue, float64(st.Metrics))
	ch <- prometheus.MustNewConstMetric(c.points, prometheus.GaugeValue, float64(st.Points))
	ch <- prometheus.MustNewConstMetric(c.memory, prometheus.GaugeValue, float64(st.MemoryBytes))
}
