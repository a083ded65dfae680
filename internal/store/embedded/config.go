package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-kale/kale/internal/store"
)

// Config configures the embedded store. The zero value is not valid: start
// from DefaultConfig.
type Config struct {
	// Dir is the directory of the store's files, set by the caller from
	// --data-dir. Empty keeps everything in memory only: nothing survives
	// Close (for tests and benchmarks).
	Dir string `yaml:"-"`

	// Retention is what Trim keeps, set by the caller from the store
	// section of the configuration.
	Retention store.Retention `yaml:"-"`

	// Shards is the number of independent partitions (a lock, a map and a
	// write-ahead log each). Appends to different shards never contend.
	// Changing it is allowed: Open then rewrites the data in the new
	// layout. 1 to 1024.
	Shards int `yaml:"shards"`

	// ChunkPoints is the most points a sealed, compressed chunk holds.
	// Larger chunks compress a little better and make Trim coarser.
	// 8 to 65535.
	ChunkPoints int `yaml:"chunk_points"`

	// HeadPoints is how many uncompressed points a series buffers before
	// they are sealed into its last chunk. Smaller heads use less memory
	// and re-encode the last chunk more often. 1 to ChunkPoints.
	HeadPoints int `yaml:"head_points"`

	// SyncInterval is how often the write-ahead logs are flushed and
	// fsync'd: a crash loses at most the points of the last interval.
	SyncInterval time.Duration `yaml:"sync_interval"`

	// SnapshotInterval is how often each shard writes a snapshot and drops
	// the log segments it replaces. It bounds the log replayed by Open.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`

	// SnapshotWALBytes makes a shard snapshot early once its log since the
	// last snapshot is this large, which bounds disk use and replay time
	// under heavy ingest. 0 snapshots on SnapshotInterval only.
	SnapshotWALBytes int64 `yaml:"snapshot_wal_bytes"`
}

// DefaultConfig returns the defaults: 16 shards, chunks of 120 points (two
// hours of 60 s data), heads of 32 points, fsync every second, a snapshot
// every 5 minutes or every 64 MiB of log per shard.
func DefaultConfig() Config {
	return Config{
		Retention:        store.DefaultRetention(),
		Shards:           16,
		ChunkPoints:      120,
		HeadPoints:       32,
		SyncInterval:     time.Second,
		SnapshotInterval: 5 * time.Minute,
		SnapshotWALBytes: 64 << 20,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Shards < 1 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf("shards must be 1 to 1024, not %d", c.Shards))
	}
	if c.ChunkPoints < 8 || c.ChunkPoints > maxChunkLen {
		errs = append(errs, fmt.Errorf("chunk_points must be 8 to %d, not %d", maxChunkLen, c.ChunkPoints))
	}
	if c.HeadPoints < 1 || c.HeadPoints > c.ChunkPoints {
		errs = append(errs, fmt.Errorf("head_points must be 1 to chunk_points (%d), not %d", c.ChunkPoints, c.HeadPoints))
	}
	if c.SyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("sync_interval must be positive, not %v", c.SyncInterval))
	}
	if c.SnapshotInterval <= 0 {
		errs = append(errs, fmt.Errorf("snapshot_interval must be positive, not %v", c.SnapshotInterval))
	}
	if c.SnapshotWALBytes < 0 {
		errs = append(errs, fmt.Errorf("snapshot_wal_bytes must not be negative, not %d", c.SnapshotWALBytes))
	}
	if c.Retention.FullDuration <= 0 || c.Retention.Grace < 0 {
		errs = append(errs, fmt.Errorf("retention must have a positive full duration and no negative grace, not %+v", c.Retention))
	}
	return errors.Join(errs...)
}
