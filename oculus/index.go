package oculus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors checked with errors.Is.
var (
	// ErrNotIndexed: the metric is not in the index's current generation
	// (unknown, too few points in the window, or not imported yet).
	ErrNotIndexed = errors.New("metric is not in the Oculus index")
	// ErrNoIndex: no import has completed yet, so there is nothing to
	// search.
	ErrNoIndex = errors.New("the Oculus index is empty: no import has completed yet")
	// ErrCollectionNotFound: no collection has that id.
	ErrCollectionNotFound = errors.New("collection not found")
	// ErrCollectionExists: a collection with that name already exists.
	ErrCollectionExists = errors.New("a collection with that name already exists")

	// ErrBadQuery wraps what is wrong with a search's input (a 400 in the
	// API).
	ErrBadQuery = errors.New("bad query")

	errTooFewValues = fmt.Errorf("%w: need at least 2 finite values", ErrBadQuery)
)

// Doc is one metric's shape in an index generation.
type Doc struct {
	Metric string `json:"metric"`
	// Values are the metric's points on the window's grid of Config.Points
	// buckets, scaled to [0, ScalePoints].
	Values []float32 `json:"values"`
	// Fingerprint is Oculus's words for the window (package fingerprint).
	Fingerprint string `json:"fingerprint"`
	// Flat is true when the window held one value only.
	Flat bool `json:"flat,omitempty"`
}

// Query asks an index for candidates resembling a shape.
type Query struct {
	Values      []float32 // scaled, len = the generation's Points
	Fingerprint string
	// Exclude is a metric left out of the answer (the query's own).
	Exclude string
	// Band is the half-width in points of the DTW band the caller ranks
	// with (−1: unconstrained). The embedded index bounds DTW within it.
	Band int
	// ScanLimit caps the work of the embedded index: at most this many
	// shapes, in increasing order of their LB_Keogh bound, go on to the
	// dearer bounds and DTW, and the answer is the exact nearest among
	// them. 0: no cap, the exact nearest of all. Other backends ignore it.
	ScanLimit int
}

// Stats describes an index's current generation.
type Stats struct {
	Docs   int       `json:"docs"`
	Window Window    `json:"window"`
	Points int       `json:"points"`
	Built  time.Time `json:"built"` // when the generation was committed
}

// Index holds one generation of metric shapes, all over the same window,
// and the collections. A generation is built whole beside the current one
// and swapped in by Commit, so a search never sees a half-built index
// (Oculus switched between two whole Elasticsearch clusters for this).
// Every method is safe for concurrent use.
//
// Two backends implement it, both tested by one conformance suite
// (oculus/oculustest): NewEmbedded, in process (the default), and the
// Elasticsearch backend in oculus/elastic.
type Index interface {
	// Build starts a new generation over window w with n points per shape.
	Build(ctx context.Context, w Window, n int) (Builder, error)
	// Candidates returns up to n documents of the current generation that
	// may resemble q, in no particular order; the caller ranks them by
	// distance. ErrNoIndex before the first Commit.
	Candidates(ctx context.Context, q Query, n int) ([]Doc, error)
	// Get returns a metric's document: ErrNotIndexed when absent,
	// ErrNoIndex before the first Commit.
	Get(ctx context.Context, metric string) (Doc, error)
	// Stats describes the current generation (zero before the first
	// Commit).
	Stats(ctx context.Context) (Stats, error)

	// PutCollection stores c under c.ID, replacing what had that ID.
	// ErrCollectionExists when another collection has the same Name.
	PutCollection(ctx context.Context, c Collection) error
	// Collections lists every collection, by name.
	Collections(ctx context.Context) ([]Collection, error)
	// Collection returns one collection, or ErrCollectionNotFound.
	Collection(ctx context.Context, id string) (Collection, error)
	// DeleteCollection removes one, or returns ErrCollectionNotFound.
	DeleteCollection(ctx context.Context, id string) error

	// Ping reports whether the backend answers (for /healthz).
	Ping(ctx context.Context) error
	Close() error
}

// Builder fills a generation. It is used by one goroutine.
type Builder interface {
	// Add indexes docs into the new generation; a metric added twice
	// keeps its last document.
	Add(ctx context.Context, docs []Doc) error
	// Commit makes the generation the one searched and drops the previous
	// one.
	Commit(ctx context.Context) error
	// Abort drops the generation; the current one stays.
	Abort(ctx context.Context) error
}

// Collection is a named set of metrics with a description ("the March
// disk-full incident"), each with the shape it had when it was saved, so
// that a later anomaly resembling it brings it up in search results.
type Collection struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Members     []Member  `json:"metrics"`
}

// Member is one metric of a collection and its shape when saved.
type Member struct {
	Metric string    `json:"metric"`
	Window Window    `json:"window"`
	Values []float32 `json:"values,omitempty"` // scaled to [0, ScalePoints]; empty when it had no data
}
