package horizon

import "fmt"

// Reason says why Horizon refused or dropped a point. Each is a label value
// of kale_horizon_points_rejected_total / kale_horizon_points_dropped_total,
// so they are stable, snake_case, and few.
type Reason string

// Why a point was rejected (bad input) ...
const (
	ReasonMalformed    Reason = "malformed"     // wrong shape: not (name, (ts, value))
	ReasonNonNumeric   Reason = "non_numeric"   // value is not a number
	ReasonBadTimestamp Reason = "bad_timestamp" // timestamp not a finite number in int64 seconds
	ReasonNaN          Reason = "nan"           // value is NaN
	ReasonInf          Reason = "inf"           // value is ±Inf
	ReasonEmptyName    Reason = "empty_name"    // name is empty
	ReasonLongName     Reason = "long_name"     // name longer than filters.max_name_length
	ReasonBadName      Reason = "invalid_name"  // name is not UTF-8 or holds control characters or spaces
	ReasonTooOld       Reason = "too_old"       // older than filters.max_age (Skyline's MAX_RESOLUTION)
	ReasonFuture       Reason = "future"        // further ahead than filters.max_future
	ReasonSkipped      Reason = "skip_list"     // matched the skip list and not the do-not-skip list
)

// ... or dropped (Kale could not keep it).
const (
	ReasonQueueFull        Reason = "queue_full"        // UDP only: the ingest queue was full
	ReasonStoreUnavailable Reason = "store_unavailable" // shutdown gave up on a store that kept failing
)

// RejectError is the error a parser returns (or reports) for one point it
// refuses. The Reason is counted; the message is logged (rate-limited).
type RejectError struct {
	Reason Reason
	Msg    string
}

func (e *RejectError) Error() string { return string(e.Reason) + ": " + e.Msg }

func reject(r Reason, format string, args ...any) error {
	return &RejectError{Reason: r, Msg: fmt.Sprintf(format, args...)}
}
