package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/email"
	"github.com/go-kale/kale/alerters/pagerduty"
	"github.com/go-kale/kale/alerters/syslog"
	"github.com/go-kale/kale/alerters/webhook"
)

// AlertsConfig is the alerts: section of Kale's config: the rules, the
// alerters they name, and how alerts are delivered.
type AlertsConfig struct {
	// LinkBase is the web page's address as people reach it
	// ("http://kale.example.com:1500"); alerts link to the metric there.
	// "" = http://<this host's name>:<http port>.
	LinkBase string `yaml:"link_base"`
	// Rules, Skyline's ALERTS: every matching rule fires.
	Rules []Rule `yaml:"rules"`
	// Alerters are the channels the rules name.
	Alerters []AlerterConfig `yaml:"alerters"`
	// Delivery: per-alerter queues, retries and backoff.
	Delivery alerters.DispatchOptions `yaml:"delivery"`
}

// AlerterConfig is one named channel: exactly one of Email, PagerDuty,
// Webhook and Syslog is set. Omitted keys of the channel keep its
// defaults; an unknown key is an error.
type AlerterConfig struct {
	Name string `yaml:"name"`
	// SendResolved: also tell this channel when an alerted metric is normal
	// again (rule resolve_after). Default: true for pagerduty and webhook,
	// false for email and syslog.
	SendResolved *bool             `yaml:"send_resolved"`
	Email        *email.Config     `yaml:"email"`
	PagerDuty    *pagerduty.Config `yaml:"pagerduty"`
	Webhook      *webhook.Config   `yaml:"webhook"`
	Syslog       *syslog.Config    `yaml:"syslog"`
}

// UnmarshalYAML decodes an alerter strictly, each channel over its
// DefaultConfig.
func (c *AlerterConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: an alerter is a mapping (name: ..., and one of email, pagerduty, webhook, syslog)", n.Line)
	}
	*c = AlerterConfig{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "name":
			err = v.Decode(&c.Name)
		case "send_resolved":
			var b bool
			if err = v.Decode(&b); err == nil {
				c.SendResolved = &b
			}
		case "email":
			x := email.DefaultConfig()
			err, c.Email = strictDecode(v, &x), &x
		case "pagerduty":
			x := pagerduty.DefaultConfig()
			err, c.PagerDuty = strictDecode(v, &x), &x
		case "webhook":
			x := webhook.DefaultConfig()
			err, c.Webhook = strictDecode(v, &x), &x
		case "syslog":
			x := syslog.DefaultConfig()
			err, c.Syslog = strictDecode(v, &x), &x
		default:
			err = fmt.Errorf("line %d: field %s not found in an alerter (want name, send_resolved, email, pagerduty, webhook or syslog)", k.Line, k.Value)
		}
		if err != nil {
			if k.Value == "email" || k.Value == "pagerduty" || k.Value == "webhook" || k.Value == "syslog" {
				// strictDecode's own line numbers count from the channel's first line.
				return fmt.Errorf("the %s alerter at line %d: %w", k.Value, k.Line, err)
			}
			return err
		}
	}
	return nil
}

// strictDecode decodes n into v refusing unknown keys (yaml.Node.Decode
// does not carry the file decoder's KnownFields).
func strictDecode(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// kind returns the channel's type name, or "" when none or several are set.
func (c AlerterConfig) kind() string {
	kind, n := "", 0
	for _, k := range []struct {
		set  bool
		name string
	}{{c.Email != nil, "email"}, {c.PagerDuty != nil, "pagerduty"}, {c.Webhook != nil, "webhook"}, {c.Syslog != nil, "syslog"}} {
		if k.set {
			kind, n = k.name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return kind
}

// sendResolved applies the per-kind default.
func (c AlerterConfig) sendResolved() bool {
	if c.SendResolved != nil {
		return *c.SendResolved
	}
	k := c.kind()
	return k == "pagerduty" || k == "webhook"
}

// Validate reports every problem of the alerts section.
func (c AlertsConfig) Validate() error {
	var errs []error
	names := map[string]bool{}
	for i, a := range c.Alerters {
		where := fmt.Sprintf("alerts.alerters[%d]", i)
		if a.Name == "" || strings.ContainsAny(a.Name, ". \t\n") {
			// The claim key is Skyline's last_alert.<alerter>.<metric>.
			errs = append(errs, fmt.Errorf("%s.name %q: want a non-empty name without dots or spaces", where, a.Name))
		} else if names[a.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice", where, a.Name))
		}
		names[a.Name] = true
		var err error
		switch a.kind() {
		case "email":
			err = a.Email.Validate()
		case "pagerduty":
			err = a.PagerDuty.Validate()
		case "webhook":
			err = a.Webhook.Validate()
		case "syslog":
			err = a.Syslog.Validate()
		default:
			err = errors.New("set exactly one of email, pagerduty, webhook, syslog")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", where, a.Name, err))
		}
	}
	for i, r := range c.Rules {
		where := fmt.Sprintf("alerts.rules[%d]", i)
		if !names[r.Alerter] {
			errs = append(errs, fmt.Errorf("%s.alerter %q is not one of alerts.alerters", where, r.Alerter))
		}
		if r.Regex != "" {
			if _, err := regexp.Compile(r.Regex); err != nil {
				errs = append(errs, fmt.Errorf("%s.regex: %w", where, err))
			}
		}
		if r.Expiration < 0 || (r.Expiration > 0 && r.Expiration < time.Second) {
			errs = append(errs, fmt.Errorf("%s.expiration %v: want 0 (the profile's) or at least 1s", where, r.Expiration))
		}
		if r.ResolveAfter < 0 || (r.ResolveAfter > 0 && r.ResolveAfter < time.Second) {
			errs = append(errs, fmt.Errorf("%s.resolve_after %v: want 0 (never) or at least 1s", where, r.ResolveAfter))
		}
	}
	if err := c.Delivery.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("alerts.delivery: %w", err))
	}
	return errors.Join(errs...)
}

// NewAlerters builds the configured channels (secrets resolved from the
// environment where the config says env:NAME).
func (c AlertsConfig) NewAlerters(logger *slog.Logger) ([]alerters.Alerter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var out []alerters.Alerter
	for _, a := range c.Alerters {
		l := logger.With("alerter", a.Name)
		var al alerters.Alerter
		var err error
		switch a.kind() {
		case "email":
			al, err = email.New(a.Name, *a.Email, l)
		case "pagerduty":
			al, err = pagerduty.New(a.Name, *a.PagerDuty, l)
		case "webhook":
			al, err = webhook.New(a.Name, *a.Webhook, l)
		case "syslog":
			al, err = syslog.New(a.Name, *a.Syslog, l)
		default:
			err = errors.New("set exactly one of email, pagerduty, webhook, syslog")
		}
		if err != nil {
			return nil, fmt.Errorf("alerter %q: %w", a.Name, err)
		}
		out = append(out, al)
	}
	return out, nil
}

// SendResolved returns the alerters that are told of resolves.
func (c AlertsConfig) SendResolved() map[string]bool {
	out := map[string]bool{}
	for _, a := range c.Alerters {
		if a.sendResolved() {
			out[a.Name] = true
		}
	}
	return out
}
