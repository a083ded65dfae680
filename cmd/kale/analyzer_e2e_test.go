package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/testserver"
)

// Timings of the analyzer end-to-end test.
const (
	e2eStepTimeout = 20 * time.Second // each wait for kale to act
	e2ePoll        = 20 * time.Millisecond
	e2eLinkBase    = "http://kale.test:1500"
	e2eSpikeValue  = 10000.0
)

// A series with an injected spike, written through Horizon (pickle) into
// the store, is judged anomalous by the analyzer (default profile): the
// anomaly is recorded and served by GET /api/anomalies, and exactly one
// e-mail reaches a real SMTP server, one PagerDuty trigger an Events API
// server and one webhook POST a receiver, each carrying the metric, value,
// time, score, detectors and the link to the web page. A restart of kale
// while the spike is still the newest point sends nothing again (the claims
// and incidents are in the store); normal points then resolve the
// incident: PagerDuty and the webhook get a resolve with the same dedup
// key, e-mail (send_resolved off by default) gets nothing. Quiet metrics
// never alert. On the embedded store and on Redis.
func TestAnalyzerEndToEnd(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testAnalyzerEndToEnd(t, backend)
		})
	}
}

func testAnalyzerEndToEnd(t *testing.T, backend string) {
	smtp := testserver.StartSMTP(t)
	pd := newRecorder(t, http.StatusAccepted)
	hook := newRecorder(t, http.StatusOK)
	dataDir := t.TempDir()
	args := []string{"--data-dir", dataDir, "--config", writeE2EConfig(t, smtp.Addr(), pd.URL(), hook.URL())}
	if backend == "redis" {
		args = append(args, "--redis", testserver.StartRedis(t).URL)
	}
	pdKey := "e2e-routing-key-" + backend
	env := []string{"KALE_E2E_PD_KEY=" + pdKey}

	// 1. History with a spike as its newest point, fresh enough not to be
	// Stale (500 s) for the whole test, and quiet metrics beside it.
	k := startKaleEnv(t, env, args...)
	t0 := time.Now().Unix()
	spikeTS := t0 - 300
	rng := rand.New(rand.NewPCG(42, uint64(len(backend))))
	var samples []series.Sample
	for _, name := range []string{"e2e.spiky", "e2e.quiet.a", "e2e.quiet.b"} {
		for i := range 300 {
			ts := spikeTS - int64(299-i)*60
			v := 100 + rng.NormFloat64()*5
			if name == "e2e.spiky" && i == 299 {
				v = e2eSpikeValue
			}
			samples = append(samples, series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}})
		}
	}
	k.sendPickle(t, samples)

	// 2. Recorded and served by the API.
	var rec apiAnomaly
	waitUntil(t, k, "GET /api/anomalies to list the spike", func() bool {
		as := k.anomalies(t)
		if len(as) == 0 {
			return false
		}
		if len(as) != 1 || as[0].Metric != "e2e.spiky" {
			t.Fatalf("anomalies %+v, want only e2e.spiky's spike\n%s", as, k.logs())
		}
		rec = as[0]
		return true
	})
	if rec.Value != e2eSpikeValue || rec.Timestamp != spikeTS || !(rec.Score > 0 && rec.Score <= 1) ||
		len(rec.Detectors) == 0 || rec.Profile != "default" {
		t.Fatalf("recorded anomaly %+v, want value %v at %d, score in (0, 1], detectors, profile default",
			rec, e2eSpikeValue, spikeTS)
	}

	// 3. One alert on each channel, with the anomaly's content.
	waitUntil(t, k, "one e-mail, one PagerDuty event and one webhook POST", func() bool {
		return smtp.Count(t) >= 1 && pd.count() >= 1 && hook.count() >= 1
	})
	link := e2eLinkBase + "/?metric=e2e.spiky"
	pdDedup, hookDedup := "kale/pd/e2e.spiky", "kale/hook/e2e.spiky"

	var ev pdEvent
	pd.decode(t, 0, &ev)
	if ev.EventAction != "trigger" || ev.RoutingKey != pdKey || ev.DedupKey != pdDedup {
		t.Errorf("PagerDuty event: action %q, routing key %q, dedup key %q; want trigger, %q, %q",
			ev.EventAction, ev.RoutingKey, ev.DedupKey, pdKey, pdDedup)
	}
	if ev.Payload == nil {
		t.Fatalf("PagerDuty trigger without a payload: %s", pd.body(0))
	}
	score := ev.Payload.CustomDetails.Score
	if math.Abs(score-rec.Score) > 1e-3 {
		t.Errorf("PagerDuty score %v, the recorded one %v", score, rec.Score)
	}
	wantPD := pdPayload{
		Timestamp: time.Unix(spikeTS, 0).UTC().Format(time.RFC3339),
		Component: "e2e.spiky",
		Severity:  "error",
		CustomDetails: pdDetails{Value: e2eSpikeValue, Score: score, Detectors: rec.Detectors,
			Profile: "default", Rule: "e2e."},
	}
	gotPD := *ev.Payload
	gotPD.Summary, gotPD.Source = "", ""
	if diff := cmp.Diff(wantPD, gotPD); diff != "" {
		t.Errorf("PagerDuty payload (-want +got):\n%s", diff)
	}
	if !strings.Contains(ev.Payload.Summary, "e2e.spiky") || ev.Payload.Source == "" {
		t.Errorf("PagerDuty summary %q, source %q", ev.Payload.Summary, ev.Payload.Source)
	}
	if diff := cmp.Diff([]pdLink{{Href: link, Text: "View in Kale"}}, ev.Links); diff != "" {
		t.Errorf("PagerDuty links (-want +got):\n%s", diff)
	}

	var hk hookPayload
	hook.decode(t, 0, &hk)
	wantHook := hookPayload{Kind: "trigger", Metric: "e2e.spiky", Timestamp: spikeTS, Value: e2eSpikeValue,
		Score: score, Detectors: rec.Detectors, Profile: "default", Rule: "e2e.", Link: link, DedupKey: hookDedup}
	if diff := cmp.Diff(wantHook, hk); diff != "" {
		t.Errorf("webhook trigger (-want +got):\n%s", diff)
	}

	checkE2EMail(t, smtp.Messages(t)[0], []string{
		"Metric:    e2e.spiky", "Value:     10000",
		fmt.Sprintf("Time:      %s (%d)", time.Unix(spikeTS, 0).UTC().Format(time.RFC3339), spikeTS),
		"Score:     " + strconv.FormatFloat(score, 'g', -1, 64),
		"Detectors: " + strings.Join(rec.Detectors, ", "),
		"Link:      " + link,
	}, []string{
		"e2e.spiky", "10000", time.Unix(spikeTS, 0).UTC().Format(time.RFC3339),
		strconv.FormatFloat(score, 'g', -1, 64), strings.Join(rec.Detectors, ", "),
		`<a href="` + link + `">`,
	})

	// 4. A restart while the spike is still the newest point pages nobody
	// again: the claims and the open incidents are in the store.
	k.stop(t)
	k = startKaleEnv(t, env, args...)
	// Each of at least 3 cycles found the spike again (so the silence is
	// the de-duplication's, not a missed anomaly), and judged every metric
	// (3 listed, no exception: the quiet ones were judged normal).
	waitUntil(t, k, "3 analyzer cycles after the restart", func() bool {
		return k.metric(t, "kale_analyzer_cycles_total") >= 3 && k.metric(t, "kale_analyzer_anomalies_total") >= 3
	})
	if m, e := k.metric(t, "kale_analyzer_metrics"), k.metric(t, "kale_analyzer_exceptions_total"); m != 3 || e != 0 {
		t.Errorf("after the restart: %v metrics listed, %v exceptions; want 3 and 0", m, e)
	}
	if n, p, h := smtp.Count(t), pd.count(), hook.count(); n != 1 || p != 1 || h != 1 {
		t.Fatalf("after the restart: %d e-mails, %d PagerDuty events, %d webhook POSTs; want 1 each\n%s",
			n, p, h, k.logs())
	}

	// 5. Normal points after the spike: once it has been normal for
	// resolve_after (3m, by the data's timestamps), the incident resolves.
	now := time.Now().Unix()
	var normal []series.Sample
	for ts := now - 240; ts <= now; ts += 60 {
		normal = append(normal, series.Sample{Name: "e2e.spiky",
			Point: series.Point{Timestamp: ts, Value: 100 + rng.NormFloat64()*5}})
	}
	k.sendPickle(t, normal)
	waitUntil(t, k, "the PagerDuty and webhook resolves", func() bool {
		return pd.count() >= 2 && hook.count() >= 2
	})

	// 6. SIGTERM: kale exits 0 after delivering what it queued.
	k.stop(t)
	var res pdEvent
	pd.decode(t, 1, &res)
	if diff := cmp.Diff(pdEvent{RoutingKey: pdKey, EventAction: "resolve", DedupKey: pdDedup}, res); diff != "" {
		t.Errorf("PagerDuty resolve (-want +got):\n%s", diff)
	}
	var hr hookPayload
	hook.decode(t, 1, &hr)
	if hr.Kind != "resolve" || hr.Metric != "e2e.spiky" || hr.DedupKey != hookDedup || hr.Link != link ||
		hr.Timestamp < now-240 || hr.Timestamp > now {
		t.Errorf("webhook resolve %+v; want kind resolve, e2e.spiky, dedup key %q, link %q, a time of the normal points",
			hr, hookDedup, link)
	}
	if n, p, h := smtp.Count(t), pd.count(), hook.count(); n != 1 || p != 2 || h != 2 {
		t.Errorf("at the end: %d e-mails, %d PagerDuty events, %d webhook POSTs; want 1 (no resolve by mail), 2, 2",
			n, p, h)
	}
	if logs := k.logs(); strings.Contains(logs, pdKey) {
		t.Errorf("the PagerDuty routing key appears in kale's log")
	}
}

// writeE2EConfig writes the test's config file: a fast analyzer, backfill
// allowed, and one rule per alerter for "e2e." metrics.
func writeE2EConfig(t *testing.T, smtpAddr, pdURL, hookURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`analyzer:
  interval: 200ms
  profile: default
horizon:
  filters:
    max_age: 0s
alerts:
  link_base: %s
  rules:
    - {pattern: "e2e.", alerter: mail, expiration: 1h, resolve_after: 3m}
    - {pattern: "e2e.", alerter: pd, expiration: 1h, resolve_after: 3m}
    - {pattern: "e2e.", alerter: hook, expiration: 1h, resolve_after: 3m}
  alerters:
    - name: mail
      email: {addr: %q, from: "Kale <kale@kale.test>", to: [ops@kale.test], starttls: never}
    - name: pd
      pagerduty: {url: %q, routing_key: "env:KALE_E2E_PD_KEY"}
    - name: hook
      webhook: {url: %q, format: kale}
`, e2eLinkBase, smtpAddr, pdURL, hookURL)
	path := filepath.Join(t.TempDir(), "kale.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkE2EMail parses an alert e-mail: the subject names the metric, and
// the text/plain part holds every line of wantText, the text/html part
// every string of wantHTML.
func checkE2EMail(t *testing.T, raw []byte, wantText, wantHTML []string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("cannot parse the e-mail: %v\n%s", err, raw)
	}
	if got := msg.Header.Get("Subject"); got != "[kale] anomaly: e2e.spiky" {
		t.Errorf("e-mail subject %q", got)
	}
	if to, err := msg.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "ops@kale.test" {
		t.Errorf("e-mail To %q (%v), want ops@kale.test", msg.Header.Get("To"), err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("e-mail Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("cannot read the e-mail's parts: %v", err)
		}
		body, err := io.ReadAll(p) // quoted-printable is decoded by NextPart
		if err != nil {
			t.Fatalf("cannot read an e-mail part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	for ct, want := range map[string][]string{"text/plain": wantText, "text/html": wantHTML} {
		body, ok := parts[ct]
		if !ok {
			t.Errorf("the e-mail has no %s part", ct)
			continue
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("the e-mail's %s part lacks %q:\n%s", ct, w, body)
			}
		}
	}
}

// recorder is an HTTP endpoint (PagerDuty's Events API, a webhook) that
// keeps every POST body and answers status.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newRecorder(t *testing.T, status int) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"status":"success"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) URL() string { return r.srv.URL }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *recorder) body(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.bodies) {
		return nil
	}
	return r.bodies[i]
}

// decode decodes the i-th body into v, refusing unknown fields.
func (r *recorder) decode(t *testing.T, i int, v any) {
	t.Helper()
	b := r.body(i)
	if b == nil {
		t.Fatalf("no request %d at %s", i, r.URL())
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("cannot decode %s: %v", b, err)
	}
}

// pdEvent is a PagerDuty Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload"`
	Links       []pdLink   `json:"links"`
}

type pdPayload struct {
	Summary       string    `json:"summary"`
	Source        string    `json:"source"`
	Severity      string    `json:"severity"`
	Timestamp     string    `json:"timestamp"`
	Component     string    `json:"component"`
	CustomDetails pdDetails `json:"custom_details"`
}

type pdDetails struct {
	Value     float64  `json:"value"`
	Score     float64  `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
	Rule      string   `json:"rule"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// hookPayload is the webhook's "kale" format.
type hookPayload struct {
	Kind      string   `json:"kind"`
	Metric    string   `json:"metric"`
	Timestamp int64    `json:"timestamp"`
	Value     float64  `json:"value"`
	Score     float64  `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
	Rule      string   `json:"rule"`
	Link      string   `json:"link"`
	DedupKey  string   `json:"dedup_key"`
}

// apiAnomaly is one element of GET /api/anomalies.
type apiAnomaly struct {
	Metric    string   `json:"metric"`
	Timestamp int64    `json:"timestamp"`
	Value     float64  `json:"value"`
	Score     float64  `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
}

// waitUntil polls cond until it holds, failing after e2eStepTimeout with
// kale's log.
func waitUntil(t *testing.T, k *kaleProc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eStepTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s\n%s", e2eStepTimeout, what, k.logs())
		}
		time.Sleep(e2ePoll)
	}
}

// sendPickle sends samples as one pickle frame and closes the connection.
func (p *kaleProc) sendPickle(t *testing.T, samples []series.Sample) {
	t.Helper()
	conn, err := net.Dial("tcp", p.pickle)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(graphite.AppendPickleFrame(nil, samples)); err != nil {
		t.Fatal(err)
	}
}

// anomalies returns GET /api/anomalies.
func (p *kaleProc) anomalies(t *testing.T) []apiAnomaly {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/api/anomalies")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/anomalies: %s %s", resp.Status, b)
	}
	var body struct{ Anomalies []apiAnomaly }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Anomalies
}

// metric returns the sum of metric name's series on /metrics (every label
// set); it fails the test when there is none.
func (p *kaleProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || (!strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "{")) {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: %s: %v", sc.Text(), err)
		}
		sum, found = sum+f, true
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	if !found {
		t.Fatalf("/metrics has no %s", name)
	}
	return sum
}

// stop sends SIGTERM and requires a clean exit (status 0).
func (p *kaleProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("kale did not stop cleanly on SIGTERM: %v\n%s", err, p.logs())
	}
}
