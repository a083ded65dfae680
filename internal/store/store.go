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
