// Package alerters holds Kale's notification channels: the Alert that the
// analyzer hands over, the Alerter interface every channel implements, the
// Dispatcher that queues alerts per channel and retries failed sends, and
// Secret, the config string type that never prints its value.
//
// One sub-package per channel implements Alerter: alerters/email (SMTP),
// alerters/pagerduty (Events API v2), alerters/webhook (JSON POST, or a
// Slack incoming webhook) and alerters/syslog (RFC 5424 or RFC 3164). Each
// has a Config with yaml tags, DefaultConfig, Validate and
// New(name, Config, logger), and documents its message format.
//
// Error contract. Send returns nil when the channel accepted the alert. An
// error it returns is retryable unless it was wrapped with Permanent (or is
// a StatusError with a permanent code): network errors, timeouts, HTTP 5xx,
// 408 and 429 are worth trying again; a rejected payload, bad credentials or
// any other configuration error are not. The Dispatcher retries only what
// Retryable reports as retryable.
package alerters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Kind says whether an Alert starts (Trigger) or ends (Resolve) an anomaly.
type Kind int

// Kinds. The zero value is Trigger.
const (
	// Trigger: a metric is anomalous.
	Trigger Kind = iota
	// Resolve: a metric that was anomalous has been judged normal again.
	Resolve
)

// String returns "trigger", "resolve", or "Kind(n)" for an unknown value.
// Channels use it as the kind label and the "kind" field of their payloads.
func (k Kind) String() string {
	switch k {
	case Trigger:
		return "trigger"
	case Resolve:
		return "resolve"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Valid reports whether k is Trigger or Resolve.
func (k Kind) Valid() bool { return k == Trigger || k == Resolve }

// Alert is one notification: an anomaly of one metric (Kind Trigger) or
// the end of one (Kind Resolve).
//
// Every string field may hold anything (the metric name came from the
// network): channels escape them for HTML, JSON, mail headers, Slack
// markup and syslog, and no Alert makes a channel panic.
type Alert struct {
	Kind      Kind
	Metric    string   // base name, untrusted (came from the network)
	Timestamp int64    // UNIX seconds of the anomalous point (Resolve: when the metric was judged normal again)
	Value     float64  // value of the point; may be NaN or ±Inf
	Score     float64  // anomaly score in [0, 1]
	Detectors []string // the detectors that fired
	Profile   string   // detector profile: "default" or "classic"
	Rule      string   // name or pattern of the alert rule that matched
	Link      string   // absolute URL of the metric on Kale's web page ("" when unknown)
	DedupKey  string   // stable per (alerter, metric); PagerDuty's dedup_key
}

// Time returns a.Timestamp as a UTC time.
func (a Alert) Time() time.Time { return time.Unix(a.Timestamp, 0).UTC() }

// Validate returns an error wrapping ErrBadKind when a.Kind is neither
// Trigger nor Resolve. Every other field may hold any value.
func (a Alert) Validate() error {
	if !a.Kind.Valid() {
		return fmt.Errorf("%w: %d", ErrBadKind, int(a.Kind))
	}
	return nil
}

// Alerter sends alerts through one configured channel.
//
// Send delivers a or returns an error; it honours ctx (its deadline and
// cancellation) and is safe for concurrent use. Retryable(err) says whether
// sending the same alert again may succeed. Name returns the configured
// alerter's name, used in logs and as the "alerter" metric label.
//
// An Alerter that holds resources (a connection) also implements
// io.Closer; the Dispatcher closes it in Close.
type Alerter interface {
	Name() string
	Send(ctx context.Context, a Alert) error
}

// Sentinel errors.
var (
	// ErrBadKind: an Alert's Kind is neither Trigger nor Resolve.
	ErrBadKind = errors.New("unknown alert kind")
	// ErrClosed: the Dispatcher is closed.
	ErrClosed = errors.New("dispatcher closed")
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that Retryable reports false for it (and for any
// error wrapping it). The message is err's. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Retryable reports whether sending again may succeed after err:
//
//   - nil, an error wrapping a Permanent error, context.Canceled, or
//     ErrBadKind: false;
//   - a StatusError: its Retryable method (5xx, 408, 429: true);
//   - anything else (network errors, timeouts, context.DeadlineExceeded of
//     a per-send timeout): true.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	if errors.As(err, &p) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrBadKind) {
		return false
	}
	var s *StatusError
	if errors.As(err, &s) {
		return s.Retryable()
	}
	return true
}

// StatusError is an HTTP answer that is not a success, from a channel's
// API. Body holds the start of the response body (at most 512 bytes, with
// control characters replaced) for the log.
type StatusError struct {
	Code       int
	Body       string
	RetryAfter time.Duration // from a Retry-After header in seconds (0: none)
}

// Error returns "HTTP <code> <status text>: <body>".
func (e *StatusError) Error() string {
	s := "HTTP " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Retryable reports whether the request may succeed later: true for 408
// Request Timeout, 429 Too Many Requests and every 5xx; false for every
// other code (other 4xx are configuration or payload errors, and a 3xx
// redirect is not followed).
func (e *StatusError) Retryable() bool {
	return e.Code == 408 || e.Code == 429 || (e.Code >= 500 && e.Code <= 599)
}
