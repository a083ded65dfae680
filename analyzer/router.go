package analyzer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/internal/anomalies"
)

// Rule is one alert rule, as a tuple of Skyline's ALERTS: the metrics it
// covers, the alerter that tells people, and how long one alert silences
// the next for the same metric on that alerter.
//
// A metric matches a rule when Pattern matches it by Skyline's rules (the
// pattern is a substring of the name, or every dot-separated element of
// the pattern is among the name's elements) and, when Regex is set, the
// Go regular expression (RE2, unanchored: write ^...$ to anchor) matches
// it too. An empty Pattern and Regex match every metric. Every matching
// rule fires, in order, as Etsy's Analyzer did; the de-duplication is per
// (alerter, metric), so two rules sending to one alerter page once.
type Rule struct {
	// Name labels the rule in alerts and logs; "" = the pattern.
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`
	Regex   string `yaml:"regex"`
	// Alerter names one of alerts.alerters.
	Alerter string `yaml:"alerter"`
	// Expiration: no repeat alert for a metric on this alerter within it
	// (Skyline's EXPIRATION_TIME). 0 = the profile's (12 h for default, 1 h
	// for classic: algorithms.ProfileSettings).
	Expiration time.Duration `yaml:"expiration"`
	// ResolveAfter: an alerted metric that has been judged normal for this
	// long (by its data's timestamps) is resolved: the incident closes and,
	// for alerters with send_resolved, a resolve is sent. 0 = never (no
	// incident is kept). Default DefaultResolveAfter. A metric that stops
	// reporting is not resolved: its incident stays open until it is
	// judged normal again.
	ResolveAfter time.Duration `yaml:"resolve_after"`
}

// DefaultResolveAfter is a rule's resolve_after when the config omits it.
const DefaultResolveAfter = 30 * time.Minute

// UnmarshalYAML decodes a rule strictly over its defaults (resolve_after
// DefaultResolveAfter).
func (r *Rule) UnmarshalYAML(n *yaml.Node) error {
	type plain Rule // without this method
	v := plain{ResolveAfter: DefaultResolveAfter}
	if err := strictDecode(n, &v); err != nil {
		return err
	}
	*r = Rule(v)
	return nil
}

// label is the rule's name for alerts.
func (r Rule) label() string {
	switch {
	case r.Name != "":
		return r.Name
	case r.Pattern != "" || r.Regex != "":
		return strings.TrimSpace(r.Pattern + " " + r.Regex)
	}
	return "*"
}

// rule is a compiled Rule.
type rule struct {
	Rule
	elements []string
	re       *regexp.Regexp
}

func (r *rule) match(metric string) bool {
	if r.Pattern != "" && !strings.Contains(metric, r.Pattern) {
		names := strings.Split(metric, ".")
		for _, e := range r.elements {
			if !slices.Contains(names, e) {
				return false
			}
		}
	}
	return r.re == nil || r.re.MatchString(metric)
}

// Enqueuer hands an alert to the named alerter without blocking
// (alerters.Dispatcher). false: not queued (counted by the dispatcher).
type Enqueuer interface {
	Enqueue(alerter string, a alerters.Alert) bool
}

// RouterConfig configures a Router.
type RouterConfig struct {
	Rules []Rule
	// SendResolved lists the alerters that are sent resolves.
	SendResolved map[string]bool
	// LinkBase is the web page's base URL ("http://kale.example.com:1500");
	// alerts link to LinkBase + "/?metric=" + the name. "" = no link.
	LinkBase string
	// DefaultExpiration replaces a rule's Expiration of 0.
	DefaultExpiration time.Duration
	// AnomaliesJSON, when set, is rewritten every cycle in Skyline's
	// format.
	AnomaliesJSON string
}

// Router is the analyzer's Handler: it records every anomaly in the
// anomaly store (trimmed to its retention once a minute), sends alerts by the rules (one per alerter and metric
// within the rule's expiration, the claim kept in the store so a restart
// does not page again), keeps the incidents it opened and resolves them
// when the metric has been normal for the rule's ResolveAfter.
type Router struct {
	cfg      RouterConfig
	rules    []rule
	store    anomalies.Store
	out      Enqueuer
	logger   *slog.Logger
	lastTrim time.Time

	// recorded holds the last cycle's recorded anomalies (metric ->
	// timestamp): the same newest point judged again is not written again.
	recorded map[string]int64

	mu        sync.RWMutex
	incidents map[string]anomalies.Incident // by Key
	watched   map[string]int                // metric -> open incidents
	// normalFrom, by incident key: -1 after a cycle that did not judge the
	// metric, then the first normal point's timestamp (see resolve).
	normalFrom map[string]int64
}

// NewRouter returns a Router over store and out, loading the open
// incidents from the store. Rules naming an alerter that out does not know
// are refused by the caller (config validation), not here.
func NewRouter(ctx context.Context, cfg RouterConfig, store anomalies.Store, out Enqueuer, logger *slog.Logger) (*Router, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{cfg: cfg, store: store, out: out, logger: logger,
		incidents: map[string]anomalies.Incident{}, watched: map[string]int{}, recorded: map[string]int64{},
		normalFrom: map[string]int64{}}
	for i, rc := range cfg.Rules {
		cr := rule{Rule: rc}
		if rc.Pattern != "" {
			cr.elements = strings.Split(rc.Pattern, ".")
		}
		if rc.Regex != "" {
			re, err := regexp.Compile(rc.Regex)
			if err != nil {
				return nil, fmt.Errorf("alerts.rules[%d].regex: %w", i, err)
			}
			cr.re = re
		}
		if cr.Expiration == 0 {
			cr.Expiration = cfg.DefaultExpiration
		}
		r.rules = append(r.rules, cr)
	}
	open, err := store.Incidents(ctx)
	switch {
	case errors.Is(err, anomalies.ErrCorrupt):
		logger.Error("some open incidents could not be read; they will not be resolved", "err", err)
	case err != nil:
		return nil, fmt.Errorf("cannot load the open incidents: %w", err)
	}
	for _, in := range open {
		r.incidents[in.Key] = in
		r.watched[in.Metric]++
	}
	return r, nil
}

// Watch reports whether metric has an open incident.
func (r *Router) Watch(metric string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.watched[metric] > 0
}

// OpenIncidents returns the open incidents, sorted by key.
func (r *Router) OpenIncidents() []anomalies.Incident {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]anomalies.Incident, 0, len(r.incidents))
	for _, in := range r.incidents {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b anomalies.Incident) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Handle records rep's anomalies, alerts and resolves. It goes on past a
// failing step and returns every error.
func (r *Router) Handle(ctx context.Context, rep *Report) error {
	var errs []error
	// recorded becomes this cycle's anomalies: a point judged anomalous
	// again next cycle is not written again.
	recorded := make(map[string]int64, len(rep.Anomalies))
	var recs []anomalies.Record
	for _, a := range rep.Anomalies {
		if ts, ok := r.recorded[a.Metric]; ok && ts == a.Timestamp {
			recorded[a.Metric] = ts
			continue
		}
		rec := anomalies.Record{Metric: a.Metric, Timestamp: a.Timestamp, Value: a.Value,
			Score: a.Score, Detectors: a.Detectors, Profile: a.Profile}
		if err := anomalies.Check(&rec); err != nil { // one bad record must not cost the cycle's others
			errs = append(errs, fmt.Errorf("cannot record the anomaly of %q at %d: %w", a.Metric, a.Timestamp, err))
			continue
		}
		recs = append(recs, rec)
	}
	if len(recs) > 0 {
		if err := r.store.Add(ctx, recs); err != nil {
			errs = append(errs, fmt.Errorf("cannot record %d anomalies: %w", len(recs), err))
		} else {
			for _, rec := range recs {
				recorded[rec.Metric] = rec.Timestamp
			}
		}
	}
	r.recorded = recorded
	if rep.Start.Sub(r.lastTrim) >= time.Minute {
		if _, err := r.store.Trim(ctx, rep.Start.Unix()); err != nil {
			errs = append(errs, fmt.Errorf("cannot trim the anomaly records: %w", err))
		} else {
			r.lastTrim = rep.Start
		}
	}
	if r.cfg.AnomaliesJSON != "" {
		if err := writeAnomaliesJSON(r.cfg.AnomaliesJSON, rep.Anomalies); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range rep.Anomalies {
		for i := range r.rules {
			if ru := &r.rules[i]; ru.match(a.Metric) {
				if err := r.trigger(ctx, ru, a); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, r.resolve(ctx, rep))
	return errors.Join(errs...)
}

// incidentKey is the incident and de-dup identity: alerter and metric.
func incidentKey(alerter, metric string) string { return alerter + "\x00" + metric }

// DedupKey is the stable key an alerter (PagerDuty) groups one metric's
// alerts by: "kale/<alerter>/<metric>", or, past 255 bytes (PagerDuty's
// limit), "kale/<alerter>/sha256:<hex of the metric>".
func DedupKey(alerter, metric string) string {
	k := "kale/" + alerter + "/" + metric
	if len(k) <= 255 {
		return k
	}
	sum := sha256.Sum256([]byte(metric))
	return "kale/" + alerter + "/sha256:" + hex.EncodeToString(sum[:])
}

// trigger alerts on a through rule ru unless the claim is held, and opens
// or refreshes the incident. The incident is kept in memory first, so a
// store error cannot orphan an alert that went out; it is written again
// with the next anomalous point.
func (r *Router) trigger(ctx context.Context, ru *rule, a Anomaly) error {
	key := incidentKey(ru.Alerter, a.Metric)
	r.mu.Lock()
	in, open := r.incidents[key]
	r.mu.Unlock()
	ok, err := r.store.Claim(ctx, ru.Alerter, a.Metric, a.Timestamp, ru.Expiration)
	if err != nil {
		return fmt.Errorf("cannot claim the alert for %q on %s: %w", a.Metric, ru.Alerter, err)
	}
	if ok {
		alert := alerters.Alert{Kind: alerters.Trigger, Metric: a.Metric, Timestamp: a.Timestamp, Value: a.Value,
			Score: a.Score, Detectors: a.Detectors, Profile: a.Profile, Rule: ru.label(),
			Link: r.link(a.Metric), DedupKey: DedupKey(ru.Alerter, a.Metric)}
		if !r.out.Enqueue(ru.Alerter, alert) {
			// Not queued (counted by the dispatcher): free the claim so
			// that the next cycle tries again.
			if err := r.store.Release(ctx, ru.Alerter, a.Metric); err != nil {
				return fmt.Errorf("cannot release the alert claim for %q on %s: %w", a.Metric, ru.Alerter, err)
			}
			return nil
		}
	}
	if ru.ResolveAfter <= 0 {
		return nil // never resolved: no incident to keep
	}
	// Claimed now, or held by an earlier alert (perhaps from before a
	// restart whose incident write failed): follow the incident.
	if !open {
		in = anomalies.Incident{Key: key, Metric: a.Metric, Rule: ru.label(), Alerter: ru.Alerter, Opened: a.Timestamp}
	} else if a.Timestamp <= in.LastAnomalous {
		return nil
	}
	in.LastAnomalous = max(in.LastAnomalous, a.Timestamp)
	r.mu.Lock()
	if !open {
		r.watched[a.Metric]++
	}
	r.incidents[key] = in
	delete(r.normalFrom, key)
	r.mu.Unlock()
	if err := r.store.PutIncident(ctx, in); err != nil {
		return fmt.Errorf("cannot keep the incident of %q on %s: %w", a.Metric, ru.Alerter, err)
	}
	return nil
}

// resolve closes the incidents whose metric has been judged normal, in
// every cycle, for at least ResolveAfter of its data: a cycle in which the
// metric was not judged (stale, gone, unreadable) restarts the count at its
// next normal point.
func (r *Router) resolve(ctx context.Context, rep *Report) error {
	anomalous := make(map[string]bool, len(rep.Anomalies))
	for _, a := range rep.Anomalies {
		anomalous[a.Metric] = true
	}
	var errs []error
	for _, in := range r.OpenIncidents() {
		ts, normal := rep.Normal[in.Metric]
		r.mu.Lock()
		from, counted := r.normalFrom[in.Key]
		switch {
		case anomalous[in.Metric]:
		case !normal:
			r.normalFrom[in.Key] = -1 // not judged: the normal run is broken
		case counted && from < 0:
			r.normalFrom[in.Key] = ts // first normal point after the gap
		}
		from = max(in.LastAnomalous, r.normalFrom[in.Key])
		r.mu.Unlock()
		after := r.resolveAfter(in)
		if !normal || after <= 0 || ts-from < int64(after/time.Second) {
			continue
		}
		if r.cfg.SendResolved[in.Alerter] {
			alert := alerters.Alert{Kind: alerters.Resolve, Metric: in.Metric, Timestamp: ts, Rule: in.Rule,
				Link: r.link(in.Metric), DedupKey: DedupKey(in.Alerter, in.Metric)}
			if !r.out.Enqueue(in.Alerter, alert) {
				continue // try again next cycle
			}
		}
		// Forget it even if the store cannot: a resolve is sent once here
		// (after a restart, at most once more).
		r.mu.Lock()
		delete(r.incidents, in.Key)
		delete(r.normalFrom, in.Key)
		if r.watched[in.Metric]--; r.watched[in.Metric] <= 0 {
			delete(r.watched, in.Metric)
		}
		r.mu.Unlock()
		if err := r.store.CloseIncident(ctx, in.Key); err != nil {
			errs = append(errs, fmt.Errorf("cannot close the incident of %q on %s: %w", in.Metric, in.Alerter, err))
		}
	}
	return errors.Join(errs...)
}

// Lost is the dispatcher's OnLost: an alert that could not be delivered.
// A lost trigger releases its claim, so the next cycle alerts again if the
// metric is still anomalous; a lost resolve reopens its incident, so the
// next normal cycle resolves again.
func (r *Router) Lost(alerter string, a alerters.Alert) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch a.Kind {
	case alerters.Trigger:
		if err := r.store.Release(ctx, alerter, a.Metric); err != nil {
			r.logger.Error("cannot release the claim of an undelivered alert; it will not be repeated before its expiration",
				"alerter", alerter, "metric", a.Metric, "err", err)
		}
	case alerters.Resolve:
		key := incidentKey(alerter, a.Metric)
		in := anomalies.Incident{Key: key, Metric: a.Metric, Rule: a.Rule, Alerter: alerter, Opened: a.Timestamp}
		r.mu.Lock()
		if _, open := r.incidents[key]; !open {
			r.incidents[key] = in
			r.watched[a.Metric]++
		}
		r.mu.Unlock()
		if err := r.store.PutIncident(ctx, in); err != nil {
			r.logger.Error("cannot reopen the incident of an undelivered resolve", "alerter", alerter, "metric", a.Metric, "err", err)
		}
	}
}

// resolveAfter is the ResolveAfter of the first rule with the incident's
// alerter that matches its metric (rules may have changed since it was
// opened), or 0.
func (r *Router) resolveAfter(in anomalies.Incident) time.Duration {
	for i := range r.rules {
		if ru := &r.rules[i]; ru.Alerter == in.Alerter && ru.match(in.Metric) {
			return ru.ResolveAfter
		}
	}
	// No rule covers it any more: close it at the first normal verdict.
	return time.Nanosecond
}

// link is the web page's URL for metric, or "".
func (r *Router) link(metric string) string {
	if r.cfg.LinkBase == "" {
		return ""
	}
	return strings.TrimRight(r.cfg.LinkBase, "/") + "/?metric=" + url.QueryEscape(metric)
}

// writeAnomaliesJSON writes Skyline's anomalies.json (JSONP, as
// earthgecko's: handle_data([[value, "name", timestamp], ...]) sorted by
// name) atomically: readers see the old or the new file, never half.
// Kale writes real JSON inside the wrapper (Etsy wrote Python repr).
func writeAnomaliesJSON(path string, as []Anomaly) error {
	rows := make([][3]any, len(as))
	sorted := slices.Clone(as)
	slices.SortFunc(sorted, func(a, b Anomaly) int { return strings.Compare(a.Metric, b.Metric) })
	for i, a := range sorted {
		rows[i] = [3]any{jsonNumber(a.Value), a.Metric, a.Timestamp}
	}
	body, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("cannot encode anomalies.json: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".anomalies-*.json")
	if err != nil {
		return fmt.Errorf("cannot write %s (analyzer.anomalies_json): %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o644) // readable by a web server, as a file written with os.WriteFile
	if err == nil {
		_, err = fmt.Fprintf(tmp, "handle_data(%s)\n", body)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s (analyzer.anomalies_json): %w", path, err)
	}
	return nil
}

// jsonNumber returns v, or nil (JSON null) when JSON cannot hold it (the
// store refuses NaN and ±Inf, so this is a guard).
func jsonNumber(v float64) any {
	if v != v || v > 1.797e308 || v < -1.797e308 {
		return nil
	}
	return v
}
