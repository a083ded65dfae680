package store

import "time"

// Retention is how long a store keeps a series: Skyline's FULL_DURATION plus
// ROOMBA_GRACE_TIME.
type Retention struct {
	FullDuration time.Duration `yaml:"full_duration"` // Skyline FULL_DURATION: what the analyzer sees
	Grace        time.Duration `yaml:"roomba_grace"`  // Skyline ROOMBA_GRACE_TIME: kept beyond FullDuration
}

// DefaultRetention is Skyline's: 86400 s plus 600 s of grace.
func DefaultRetention() Retention {
	return Retention{FullDuration: 24 * time.Hour, Grace: 10 * time.Minute}
}

// Cutoff returns the oldest timestamp that is no longer kept at now: Trim
// keeps only points with Timestamp > Cutoff(now).
func (r Retention) Cutoff(now int64) int64 {
	return now - int64((r.FullDuration+r.Grace)/time.Second)
}
