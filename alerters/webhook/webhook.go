// Package webhook sends alerts as an HTTP POST of JSON to a URL: Kale's
// own format, or a Slack incoming-webhook message.
//
// # Format "kale" (default)
//
// One JSON object per alert, Content-Type application/json:
//
//	{
//	  "kind":      "trigger",            // or "resolve"
//	  "metric":    "web.api.latency",    // the metric's base name, as received
//	  "timestamp": 1700000000,           // UNIX seconds of the point
//	  "value":     812.5,                // null when NaN or infinite
//	  "score":     0.875,                // in [0, 1]; null when NaN or infinite
//	  "detectors": ["grubbs", "ks_test"], // [] when none
//	  "profile":   "default",
//	  "rule":      "web.*",
//	  "link":      "https://kale.example/?metric=web.api.latency", // "" when unknown
//	  "dedup_key": "…"
//	}
//
// JSON escaping makes any metric name safe to carry (an invalid UTF-8 byte
// becomes U+FFFD); the receiver must still escape it for wherever it
// shows it.
//
// # Format "slack"
//
// A Slack incoming-webhook message: {"text": ..., "blocks": [...]}, where
// text is the one-line notification fallback and blocks are a header
// section (kind, metric, link "View in Kale") and a section of fields
// (Value, Score, Time, Detectors, Profile, Rule); a link too long for
// Slack's 3000-character section is left out. Every untrusted string
// has &, < and > escaped as &amp;, &lt; and &gt; (Slack's rules), so a
// metric cannot mention users or forge links, and is truncated to stay
// within Slack's block limits.
//
// # Outcome
//
// Any 2xx is success. 408, 429 (honouring Retry-After) and 5xx are
// retryable; every other code, a redirect included, is permanent. The URL
// and the header values are Secrets (a Slack URL holds a token): they
// appear in no error or log line.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/httpx"
	"github.com/go-kale/kale/alerters/internal/text"
)

// Formats.
const (
	FormatKale  = "kale"
	FormatSlack = "slack"
)

// Config configures a webhook alerter. The YAML keys are the snake_case
// tags.
type Config struct {
	// URL receives the POST (http or https). It may be "env:NAME".
	URL alerters.Secret `yaml:"url"`
	// Format of the body: "kale" (default) or "slack".
	Format string `yaml:"format"`
	// Headers are extra request headers, e.g. Authorization; each value
	// may be "env:NAME".
	Headers map[string]alerters.Secret `yaml:"headers"`
	// Timeout bounds one request, connection included (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults: format "kale", timeout 10s, no URL.
func DefaultConfig() Config {
	return Config{Format: FormatKale, Timeout: 10 * time.Second}
}

// Validate checks c and returns every problem, each naming its key. A
// Secret given as "env:NAME" is checked only for its form here; New
// resolves it.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("url: is required"))
	case c.URL.IsEnv():
		if c.URL.Reveal() == "env:" {
			errs = append(errs, errors.New(`url: "env:" names no environment variable`))
		}
	default:
		if err := checkURL(c.URL.Reveal()); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		}
	}
	if c.Format != FormatKale && c.Format != FormatSlack {
		errs = append(errs, fmt.Errorf("format: must be %q or %q, got %q", FormatKale, FormatSlack, c.Format))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	for k, v := range c.Headers {
		if err := checkHeader(k, v); err != nil {
			errs = append(errs, fmt.Errorf("headers: %q: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// checkURL requires an absolute http or https URL with a host. Its errors
// never quote the URL (it may hold a token).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New(`scheme must be "http" or "https"`)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// checkHeader requires an HTTP token as name, not one the client sets,
// and a value without control characters (unless it is "env:NAME").
func checkHeader(name string, v alerters.Secret) error {
	if name == "" {
		return errors.New("empty header name")
	}
	for _, r := range name {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return errors.New("is not a valid header name")
		}
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection":
		return errors.New("is set by the HTTP client and cannot be configured")
	}
	if v.IsEnv() {
		return nil
	}
	for _, r := range v.Reveal() {
		if r < ' ' && r != '\t' || r == 0x7f {
			return errors.New("value holds a control character")
		}
	}
	return nil
}

// Alerter posts alerts to one webhook. It is safe for concurrent use.
type Alerter struct {
	name    string
	url     string
	format  string
	header  http.Header
	secrets []string // values to scrub from errors
	client  *http.Client
	logger  *slog.Logger
}

// New validates c, resolves its Secrets and returns the alerter named
// name. logger nil discards logs. It does no network I/O.
func New(name string, c Config, logger *slog.Logger) (*Alerter, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create webhook alerter %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u, err := c.URL.Resolve()
	if err != nil {
		return nil, fmt.Errorf("cannot create webhook alerter %q: url: %w", name, err)
	}
	if err := checkURL(u.Reveal()); err != nil {
		return nil, fmt.Errorf("cannot create webhook alerter %q: url: %w", name, err)
	}
	a := &Alerter{
		name:    name,
		url:     u.Reveal(),
		format:  c.Format,
		header:  http.Header{},
		secrets: []string{u.Reveal()},
		client:  httpx.NewClient(c.Timeout),
		logger:  logger,
	}
	if pu, err := url.Parse(a.url); err == nil {
		// The path and query of a Slack-style URL are the token.
		if pu.RawQuery != "" {
			a.secrets = append(a.secrets, pu.RawQuery)
		}
		if len(pu.Path) > 1 {
			a.secrets = append(a.secrets, pu.Path)
		}
	}
	for k, v := range c.Headers {
		rv, err := v.Resolve()
		if err != nil {
			return nil, fmt.Errorf("cannot create webhook alerter %q: headers: %q: %w", name, k, err)
		}
		if err := checkHeader(k, rv); err != nil {
			return nil, fmt.Errorf("cannot create webhook alerter %q: headers: %q: %w", name, k, err)
		}
		a.header.Set(k, rv.Reveal())
		a.secrets = append(a.secrets, rv.Reveal())
	}
	return a, nil
}

// Name returns the alerter's configured name.
func (a *Alerter) Name() string { return a.name }

// String returns "webhook(<name>)"; no field, secret or not, is printed.
func (a Alerter) String() string { return "webhook(" + a.name + ")" }

// Format prints a.String() for every verb, so printing the alerter never
// shows its URL or headers.
func (a Alerter) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// Send posts al in the configured format. See the package comment for the
// formats and the outcome of each HTTP status.
func (a *Alerter) Send(ctx context.Context, al alerters.Alert) error {
	if err := al.Validate(); err != nil {
		return alerters.Permanent(fmt.Errorf("cannot send alert: %w", err))
	}
	var body []byte
	var err error
	if a.format == FormatSlack {
		body, err = SlackPayload(al)
	} else {
		body, err = KalePayload(al)
	}
	if err != nil {
		return alerters.Permanent(fmt.Errorf("cannot encode alert: %w", err))
	}
	return httpx.Post(ctx, a.client, a.url, a.header, body, nil, a.secrets...)
}

// payload is the "kale" format.
type payload struct {
	Kind      string   `json:"kind"`
	Metric    string   `json:"metric"`
	Timestamp int64    `json:"timestamp"`
	Value     *float64 `json:"value"`
	Score     *float64 `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
	Rule      string   `json:"rule"`
	Link      string   `json:"link"`
	DedupKey  string   `json:"dedup_key"`
}

// KalePayload returns the "kale" format of a (see the package comment).
// Invalid UTF-8 in a string becomes U+FFFD.
func KalePayload(a alerters.Alert) ([]byte, error) {
	det := a.Detectors
	if det == nil {
		det = []string{}
	}
	return json.Marshal(payload{
		Kind:      a.Kind.String(),
		Metric:    a.Metric,
		Timestamp: a.Timestamp,
		Value:     finite(a.Value),
		Score:     finite(a.Score),
		Detectors: det,
		Profile:   a.Profile,
		Rule:      a.Rule,
		Link:      a.Link,
		DedupKey:  a.DedupKey,
	})
}

// finite returns &v, or nil (JSON null) when v is NaN or infinite.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Limits that keep a Slack message within Slack's block limits (3000
// characters per section text, 2000 per field) after escaping, which can
// grow a string fivefold.
const (
	slackSectionMax = 3000
	slackMetricMax  = 500
	slackFieldMax   = 300
	slackListMax    = 20
)

// slack* are the parts of a Slack message used here.
type (
	slackMessage struct {
		Text   string       `json:"text"`
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type   string      `json:"type"`
		Text   *slackText  `json:"text,omitempty"`
		Fields []slackText `json:"fields,omitempty"`
	}
	slackText struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// SlackPayload returns the "slack" format of a (see the package comment).
func SlackPayload(a alerters.Alert) ([]byte, error) {
	title := "anomaly"
	icon := ":rotating_light:"
	if a.Kind == alerters.Resolve {
		title, icon = "resolved", ":white_check_mark:"
	}
	metric := SlackEscape(text.Truncate(text.OneLine(a.Metric), slackMetricMax))
	head := fmt.Sprintf("%s *[kale] %s:* %s", icon, title, metric)
	if a.Link != "" {
		// A link that does not fit is left out: a cut URL is no link.
		if l := "\n<" + slackURL(a.Link) + "|View in Kale>"; utf8.RuneCountInString(head)+utf8.RuneCountInString(l) <= slackSectionMax {
			head += l
		}
	}
	field := func(name, v string) slackText {
		return slackText{Type: "mrkdwn", Text: "*" + name + "*\n" + SlackEscape(text.Truncate(text.OneLine(v), slackFieldMax))}
	}
	msg := slackMessage{
		Text: fmt.Sprintf("[kale] %s: %s value=%s score=%s", title, metric, formatFloat(a.Value), formatFloat(a.Score)),
		Blocks: []slackBlock{
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: head}},
			{Type: "section", Fields: []slackText{
				field("Value", formatFloat(a.Value)),
				field("Score", formatFloat(a.Score)),
				field("Time", a.Time().Format(time.RFC3339)+" ("+strconv.FormatInt(a.Timestamp, 10)+")"),
				field("Detectors", text.List(a.Detectors, ", ", slackListMax)),
				field("Profile", a.Profile),
				field("Rule", a.Rule),
			}},
		},
	}
	return json.Marshal(msg)
}

// SlackEscape escapes s by Slack's rules for message text: & as &amp;,
// < as &lt;, > as &gt;.
func SlackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackURL makes u safe inside <u|text>: Slack-escaped, with | encoded.
func slackURL(u string) string {
	return strings.ReplaceAll(SlackEscape(text.OneLine(u)), "|", "%7C")
}

// formatFloat formats v in the shortest form that reads back exactly
// ("NaN", "+Inf", "-Inf" for those).
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
