// Package store defines the series store that Horizon writes and the
// analyzer, Oculus and the web page read, and the Roomba that keeps it to
// the configured duration.
//
// Two backends implement Store: internal/store/embedded (the default, in
// process) and internal/store/redisstore (Redis or Redis Cluster, in
// Skyline's key format). Both pass the one conformance suite in
// internal/store/storetest, so they cannot drift apart.
package store

import (
	"context"
	"errors"

	"github.com/go-kale/kale/internal/series"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound is returned by Fetch for a metric the store does not hold.
	ErrNotFound = errors.New("metric not found")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store is closed")
	// ErrCorrupt is wrapped by the error of Fetch and FetchBatch when the
	// stored data of a metric cannot be read as a series (it does not
	// decode, or a Redis key holds another type).
	ErrCorrupt = errors.New("stored series is corrupt")
)

// Store is a set of named series. Every method is safe for concurrent use.
// A cancelled ctx makes a method return ctx.Err() as soon as it can; work
// already handed to the backend may still complete.
type Store interface {
	// Append stores samples. When it returns nil, every sample is visible
	// to Fetch and Names. Samples of one metric may arrive in any time
	// order; a repeated timestamp replaces the earlier value (last write
	// wins). Append never keeps a reference to samples after it returns.
	Append(ctx context.Context, samples []series.Sample) error

	// Names returns the base names of the metrics that hold data and start
	// with prefix ("" for all), sorted.
	Names(ctx context.Context, prefix string) ([]string, error)

	// Fetch returns the points of metric name with from <= Timestamp <=
	// until, sorted by time, one per timestamp (the last written). It
	// returns ErrNotFound when the store holds no data for name. A known
	// metric with no point in the range gives an empty slice and nil.
	Fetch(ctx context.Context, name string, from, until int64) ([]series.Point, error)

	// FetchBatch reads the metrics names[0], names[1], ... each as Fetch
	// would (from <= Timestamp <= until, sorted by time, one per timestamp,
	// the last written) and calls fn(i, points) for names[i], in
	// increasing order of i, on the goroutine that called FetchBatch, one
	// call at a time. It is how the analyzer reads the whole store every
	// cycle: a backend reads many metrics per lock or network round trip.
	//
	// fn is called for every name that Fetch would answer without error,
	// with an empty points when the metric has no point in the range. It
	// is not called for a name the store does not hold (Fetch's
	// ErrNotFound). A name listed twice is read and passed twice.
	//
	// points is the backend's scratch buffer: it is valid only until fn
	// returns and is overwritten afterwards, so fn copies what it keeps.
	// fn may modify it; that changes nothing stored.
	//
	// An error from fn stops the batch: FetchBatch returns it (wrapped or
	// not; errors.Is finds it) without calling fn again. So does a
	// cancelled ctx (ctx.Err(), checked before every call of fn), ErrClosed
	// and a failure of the backend. A metric whose stored data cannot be
	// read (ErrCorrupt) does not stop the batch: fn gets what Fetch would
	// have returned with its error (the Redis store: the points before the
	// bad bytes; the embedded store: fn is not called) and, once every
	// other name has been passed to fn, FetchBatch returns an error wrapping
	// ErrCorrupt that counts those metrics and describes the first.
	FetchBatch(ctx context.Context, names []string, from, until int64, fn func(i int, points []series.Point) error) error

	// Trim is Roomba's pass: it keeps only the points with Timestamp >
	// now - (full duration + grace) (from the backend's config), sorts and
	// de-duplicates what remains (last write wins), and deletes metrics with
	// no data left.
	Trim(ctx context.Context, now int64) (TrimStats, error)

	// Ping reports whether the backend answers (for /healthz).
	Ping(ctx context.Context) error

	// Close flushes what is buffered and releases the backend. Calls after
	// Close return ErrClosed.
	Close() error
}

// TrimStats reports what one Trim pass did.
type TrimStats struct {
	Metrics       int // metrics examined
	PointsRemoved int // points older than the cutoff or replaced by a later write
	Deleted       int // metrics deleted because no data was left
}
