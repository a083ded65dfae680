// Package anomalies stores what the analyzer found and what the alerters
// did about it: every anomaly record, the alert de-duplication claims and
// the open incidents, so that a restart of Kale neither loses the history
// nor pages again.
//
// Two backends implement Store, in the same place as the time series:
// Embedded (an append-only log in a folder of the data dir, see log.go)
// and Redis (standalone or Redis Cluster, see redis.go). The conformance
// suite in internal/anomalies/anomaliestest runs against both.
//
// # Contract shared by both backends
//
//   - A record is identified by (Metric, Timestamp). Add of a pair that is
//     already stored replaces it (last write wins; within one Add call the
//     last occurrence wins), so the pair is kept once.
//   - Since and Metric return records with Timestamp >= since, newest
//     first; records with equal Timestamp come in descending byte order of
//     Metric. limit 0 means no limit; a negative limit is ErrInvalid.
//   - Trim(now) drops the records with Timestamp < now - retention (whole
//     seconds) and returns how many it dropped.
//   - Add checks every record before it stores any (all or nothing):
//     Metric not empty, every string valid UTF-8, Value and Score finite,
//     |Timestamp| <= 2^53 (exact as a Redis score). A bad record is
//     ErrInvalid, naming the record.
//   - A claim is keyed by (alerter, metric); alerter must be non-empty and
//     hold no '.', so that "last_alert.<alerter>.<metric>" names one pair.
//     expiration must be at least 1 ms. A claim lives from the moment Claim
//     returns true until expiration has passed on the backend's clock (the
//     Redis server's clock, or Options.Now for Embedded).
//   - Incidents are keyed by Incident.Key (not empty). CloseIncident and
//     Release of a key that is not there succeed (they are idempotent).
//     Incidents returns them sorted by Key.
//   - Returned records and incidents share no memory with the store or
//     with what was passed in.
//   - After Close every method returns ErrClosed, including a second
//     Close. A done ctx makes a method return ctx's error.
package anomalies

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one anomalous point: which metric, when, its value, the
// ensemble's score, the detectors that voted for it and the profile
// (detector set) that analysed it.
type Record struct {
	Metric    string   `json:"metric"`
	Timestamp int64    `json:"timestamp"` // UNIX s of the anomalous point
	Value     float64  `json:"value"`
	Score     float64  `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
}

// Incident is an open alert for one (rule, alerter, metric): what a later
// resolve (PagerDuty) needs.
type Incident struct {
	Key           string `json:"key"`            // dedup key chosen by the caller, eg "<alerter>.<metric>"
	Metric        string `json:"metric"`         // the metric that opened it
	Rule          string `json:"rule"`           // the alert rule that matched
	Alerter       string `json:"alerter"`        // the alerter that sent it
	Opened        int64  `json:"opened"`         // UNIX s of the alert that opened it
	LastAnomalous int64  `json:"last_anomalous"` // UNIX s of the newest anomalous point seen while open
}

// Store keeps anomaly records, alert claims and open incidents. See the
// package doc for the contract common to every method.
type Store interface {
	// Add records anomalies, idempotent on (Metric, Timestamp): the same
	// pair twice is kept once (the last written).
	Add(ctx context.Context, recs []Record) error
	// Since returns records with Timestamp >= since, newest first, at most
	// limit (0 = no limit).
	Since(ctx context.Context, since int64, limit int) ([]Record, error)
	// Metric returns one metric's records with Timestamp >= since, newest
	// first, at most limit (0 = no limit).
	Metric(ctx context.Context, metric string, since int64, limit int) ([]Record, error)
	// Trim drops records with Timestamp < now - retention; it returns how
	// many it dropped.
	Trim(ctx context.Context, now int64) (int, error)
	// Claim atomically takes the de-dup key (alerter, metric) for
	// expiration: true when the caller may alert (no live claim), false
	// when a claim taken within expiration is still live. ts (the
	// anomalous point's time) is kept as the claim's payload.
	Claim(ctx context.Context, alerter, metric string, ts int64, expiration time.Duration) (bool, error)
	// Release drops a claim early, so that a later anomaly may alert.
	Release(ctx context.Context, alerter, metric string) error
	// PutIncident inserts or replaces the incident with in.Key.
	PutIncident(ctx context.Context, in Incident) error
	// Incidents returns every open incident, sorted by Key.
	Incidents(ctx context.Context) ([]Incident, error)
	// CloseIncident removes the incident with key (no error when absent).
	CloseIncident(ctx context.Context, key string) error
	// Close releases the store; later calls return ErrClosed.
	Close() error
}

// Sentinel errors, checked with errors.Is.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("anomaly store is closed")
	// ErrInvalid is wrapped by the errors of arguments the store refuses
	// (see the package doc).
	ErrInvalid = errors.New("invalid argument")
	// ErrCorrupt is wrapped by the errors of stored data that does not
	// decode: a log entry that passes its CRC but does not parse, or a
	// Redis value that is not a record.
	ErrCorrupt = errors.New("corrupt anomaly data")
)

// maxExactTS is the largest |timestamp| a float64 Redis score holds
// exactly.
const maxExactTS = 1 << 53

// checkRecord reports why r cannot be stored, or nil.
func checkRecord(r *Record) error {
	switch {
	case r.Metric == "":
		return errors.New("metric is empty")
	case !utf8.ValidString(r.Metric):
		return fmt.Errorf("metric %q is not valid UTF-8", r.Metric)
	case !utf8.ValidString(r.Profile):
		return fmt.Errorf("profile %q is not valid UTF-8", r.Profile)
	case r.Timestamp > maxExactTS || r.Timestamp < -maxExactTS:
		return fmt.Errorf("timestamp %d is outside +-2^53", r.Timestamp)
	case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
		return fmt.Errorf("value %v is not finite", r.Value)
	case math.IsNaN(r.Score) || math.IsInf(r.Score, 0):
		return fmt.Errorf("score %v is not finite", r.Score)
	}
	for _, d := range r.Detectors {
		if !utf8.ValidString(d) {
			return fmt.Errorf("detector %q is not valid UTF-8", d)
		}
	}
	return nil
}

// Check reports why rec cannot be recorded (an empty or invalid-UTF-8
// metric, a timestamp beyond ±2^53, a value or score that is not finite),
// or nil. Add refuses a batch holding such a record; callers that must not
// lose the others filter with Check first.
func Check(rec *Record) error { return checkRecord(rec) }

// checkRecords checks every record of an Add, naming the first bad one.
func checkRecords(recs []Record) error {
	for i := range recs {
		if err := checkRecord(&recs[i]); err != nil {
			return fmt.Errorf("cannot add anomalies: record %d (metric %q, timestamp %d): %w: %v",
				i, recs[i].Metric, recs[i].Timestamp, ErrInvalid, err)
		}
	}
	return nil
}

// checkClaimKey checks the (alerter, metric) of Claim and Release.
func checkClaimKey(op, alerter, metric string) error {
	var why string
	switch {
	case alerter == "":
		why = "alerter is empty"
	case strings.Contains(alerter, "."):
		why = fmt.Sprintf("alerter %q holds a '.'", alerter)
	case !utf8.ValidString(alerter):
		why = fmt.Sprintf("alerter %q is not valid UTF-8", alerter)
	case metric == "":
		why = "metric is empty"
	case !utf8.ValidString(metric):
		why = fmt.Sprintf("metric %q is not valid UTF-8", metric)
	default:
		return nil
	}
	return fmt.Errorf("cannot %s: %w: %s", op, ErrInvalid, why)
}

// checkExpiration checks Claim's expiration.
func checkExpiration(d time.Duration) error {
	if d < time.Millisecond {
		return fmt.Errorf("cannot claim: %w: expiration %v is shorter than 1ms", ErrInvalid, d)
	}
	return nil
}

// checkIncident checks an incident for PutIncident.
func checkIncident(in *Incident) error {
	var why string
	switch {
	case in.Key == "":
		why = "key is empty"
	case !utf8.ValidString(in.Key) || !utf8.ValidString(in.Metric) ||
		!utf8.ValidString(in.Rule) || !utf8.ValidString(in.Alerter):
		why = fmt.Sprintf("incident %q holds a string that is not valid UTF-8", in.Key)
	default:
		return nil
	}
	return fmt.Errorf("cannot put incident: %w: %s", ErrInvalid, why)
}

// checkLimit checks the limit of Since and Metric.
func checkLimit(op string, limit int) error {
	if limit < 0 {
		return fmt.Errorf("cannot %s: %w: limit %d is negative", op, ErrInvalid, limit)
	}
	return nil
}

// cutoff is now - retention in whole seconds, saturating at MinInt64.
func cutoff(now int64, retention time.Duration) int64 {
	r := int64(retention / time.Second)
	if now < math.MinInt64+r {
		return math.MinInt64
	}
	return now - r
}

// clone returns a copy of r that shares no memory with it.
func clone(r Record) Record {
	if r.Detectors != nil {
		r.Detectors = append([]string(nil), r.Detectors...)
	}
	return r
}
