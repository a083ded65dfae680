// Package pagerduty sends alerts to PagerDuty's Events API v2.
//
// # Format
//
// A Trigger is POSTed to the events URL (default
// https://events.pagerduty.com/v2/enqueue) as:
//
//	{
//	  "routing_key":  "<integration key>",
//	  "event_action": "trigger",
//	  "dedup_key":    "<Alert.DedupKey>",       // left out when empty: PagerDuty then makes one
//	  "payload": {
//	    "summary":   "[kale] anomaly: web.api.latency value=812.5 score=0.875 rule=web.*", // at most 1024 bytes
//	    "source":    "<source: default the hostname>",
//	    "severity":  "error",                   // critical, error, warning or info
//	    "timestamp": "2023-11-14T22:13:20Z",    // RFC 3339, UTC, of the anomalous point
//	    "component": "web.api.latency",         // the metric
//	    "custom_details": {
//	      "value": 812.5,                       // null when NaN or infinite
//	      "score": 0.875,                       // null when NaN or infinite
//	      "detectors": ["grubbs", "ks_test"],   // at most 100, then "… (N more)"
//	      "profile": "default",
//	      "rule": "web.*"
//	    }
//	  },
//	  "links": [{"href": "<Alert.Link>", "text": "View in Kale"}] // left out when Link is ""
//	}
//
// A Resolve is {"routing_key", "event_action": "resolve", "dedup_key"}
// with the same dedup_key as its Trigger; a Resolve without a DedupKey is a
// permanent error. A DedupKey longer than PagerDuty's 255 characters is
// replaced by "kale-" and its SHA-256 in hex, the same for Trigger and
// Resolve.
//
// # Outcome
//
// 202 Accepted is success. 400 (an invalid event) and any other code but
// those below are permanent; 429 (honouring Retry-After) and 5xx are
// retryable. The routing key never appears in an error or log line.
package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/httpx"
	"github.com/go-kale/kale/alerters/internal/text"
)

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Limits of the Events API v2.
const (
	maxSummary   = 1024
	maxDedupKey  = 255
	maxDetectors = 100
	maxField     = 1024 // source, component
)

// Config configures a PagerDuty alerter. The YAML keys are the snake_case
// tags.
type Config struct {
	// RoutingKey is the integration key of an Events API v2 integration.
	// It may be "env:NAME".
	RoutingKey alerters.Secret `yaml:"routing_key"`
	// URL is the events endpoint (default DefaultURL; tests point it
	// elsewhere).
	URL string `yaml:"url"`
	// Source is payload.source (default: the hostname).
	Source string `yaml:"source"`
	// Severity is payload.severity: critical, error (default), warning or info.
	Severity string `yaml:"severity"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults: URL DefaultURL, severity "error",
// timeout 10s, source empty (the hostname), no routing key.
func DefaultConfig() Config {
	return Config{URL: DefaultURL, Severity: "error", Timeout: 10 * time.Second}
}

// Validate checks c and returns every problem, each naming its key.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.RoutingKey == "":
		errs = append(errs, errors.New("routing_key: is required"))
	case c.RoutingKey.Reveal() == "env:":
		errs = append(errs, errors.New(`routing_key: "env:" names no environment variable`))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: must be an http or https URL, got %q", c.URL))
	}
	switch c.Severity {
	case "critical", "error", "warning", "info":
	default:
		errs = append(errs, fmt.Errorf("severity: must be critical, error, warning or info, got %q", c.Severity))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	if len(c.Source) > maxField {
		errs = append(errs, fmt.Errorf("source: longer than %d bytes", maxField))
	}
	return errors.Join(errs...)
}

// Alerter sends alerts to one PagerDuty integration. It is safe for
// concurrent use.
type Alerter struct {
	name     string
	key      string
	url      string
	source   string
	severity string
	client   *http.Client
	logger   *slog.Logger
}

// New validates c, resolves the routing key and returns the alerter named
// name. An empty Source becomes the hostname ("kale" when that is
// unknown). logger nil discards logs. It does no network I/O.
func New(name string, c Config, logger *slog.Logger) (*Alerter, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create pagerduty alerter %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	key, err := c.RoutingKey.Resolve()
	if err != nil {
		return nil, fmt.Errorf("cannot create pagerduty alerter %q: routing_key: %w", name, err)
	}
	src := c.Source
	if src == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			src = h
		} else {
			src = "kale"
		}
	}
	return &Alerter{
		name:     name,
		key:      key.Reveal(),
		url:      c.URL,
		source:   src,
		severity: c.Severity,
		client:   httpx.NewClient(c.Timeout),
		logger:   logger,
	}, nil
}

// Name returns the alerter's configured name.
func (a *Alerter) Name() string { return a.name }

// String returns "pagerduty(<name>)"; no field is printed.
func (a Alerter) String() string { return "pagerduty(" + a.name + ")" }

// Format prints a.String() for every verb, so printing the alerter never
// shows the routing key.
func (a Alerter) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// Send posts al as a trigger or resolve event (see the package comment).
func (a *Alerter) Send(ctx context.Context, al alerters.Alert) error {
	body, err := a.Event(al)
	if err != nil {
		return alerters.Permanent(err)
	}
	return httpx.Post(ctx, a.client, a.url, nil, body, []int{http.StatusAccepted}, a.key)
}

// event is an Events API v2 event.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key,omitempty"`
	Payload     *payload `json:"payload,omitempty"`
	Links       []link   `json:"links,omitempty"`
}

type payload struct {
	Summary       string  `json:"summary"`
	Source        string  `json:"source"`
	Severity      string  `json:"severity"`
	Timestamp     string  `json:"timestamp"`
	Component     string  `json:"component"`
	CustomDetails details `json:"custom_details"`
}

type details struct {
	Value     *float64 `json:"value"`
	Score     *float64 `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
	Rule      string   `json:"rule"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Event returns the JSON event Send posts for al. It fails (and Send
// returns the failure as permanent) for an invalid Kind or a Resolve
// without a DedupKey.
func (a *Alerter) Event(al alerters.Alert) ([]byte, error) {
	if err := al.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build event: %w", err)
	}
	ev := event{RoutingKey: a.key, EventAction: al.Kind.String(), DedupKey: DedupKey(al.DedupKey)}
	if al.Kind == alerters.Resolve {
		if ev.DedupKey == "" {
			return nil, errors.New("cannot build event: a resolve needs a dedup key")
		}
		return json.Marshal(ev)
	}
	det := al.Detectors
	if len(det) > maxDetectors {
		det = append(det[:maxDetectors:maxDetectors], text.Ellipsis+" ("+strconv.Itoa(len(al.Detectors)-maxDetectors)+" more)")
	}
	if det == nil {
		det = []string{}
	}
	ev.Payload = &payload{
		Summary:   Summary(al),
		Source:    a.source,
		Severity:  a.severity,
		Timestamp: al.Time().Format(time.RFC3339),
		Component: text.Truncate(al.Metric, maxField),
		CustomDetails: details{
			Value:     finite(al.Value),
			Score:     finite(al.Score),
			Detectors: det,
			Profile:   al.Profile,
			Rule:      al.Rule,
		},
	}
	if al.Link != "" {
		ev.Links = []link{{Href: al.Link, Text: "View in Kale"}}
	}
	return json.Marshal(ev)
}

// Summary returns payload.summary: "[kale] anomaly: <metric>
// value=<value> score=<score> rule=<rule>" on one line (control
// characters become spaces), cut to at most 1024 bytes on a rune
// boundary (ending "…" when cut).
func Summary(al alerters.Alert) string {
	s := fmt.Sprintf("[kale] anomaly: %s value=%s score=%s rule=%s",
		al.Metric, strconv.FormatFloat(al.Value, 'g', -1, 64), strconv.FormatFloat(al.Score, 'g', -1, 64), al.Rule)
	return text.Truncate(text.OneLine(s), maxSummary)
}

// DedupKey returns k when it fits PagerDuty's 255-character limit, else
// "kale-" followed by the hex SHA-256 of k.
func DedupKey(k string) string {
	// JSON turns each invalid UTF-8 byte into U+FFFD (3 bytes): count what
	// PagerDuty will receive.
	k = strings.ToValidUTF8(k, "\uFFFD")
	if len(k) <= maxDedupKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "kale-" + hex.EncodeToString(sum[:])
}

// finite returns &v, or nil (JSON null) when v is NaN or infinite.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
