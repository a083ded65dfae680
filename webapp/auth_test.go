package webapp

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/oculus"
)

// safety is a real Handler over an embedded store holding synthetic
// metrics, an imported Oculus index with one collection ("kept"), and an
// anomaly store, served on a loopback port.
type safety struct {
	h   *Handler
	srv *httptest.Server
	st  store.Store
	idx oculus.Index
	as  anomalies.Store
	now int64
}

func newSafety(t *testing.T, cfg Config) *safety {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	now := time.Now().Unix()
	spec := shapegen.DefaultSpec(200)
	spec.End = now
	var batch []series.Sample
	spec.Each(func(i int, m shapegen.Metric) error {
		for j, v := range m.Values {
			batch = append(batch, series.Sample{Name: m.Name, Point: series.Point{Timestamp: now - int64(len(m.Values)-1-j)*spec.Step, Value: v}})
		}
		return nil
	})
	for i, n := range hostile {
		batch = append(batch, series.Sample{Name: n, Point: series.Point{Timestamp: now - int64(i), Value: 1}})
	}
	if err := st.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	idx, err := oculus.NewEmbedded(oculus.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	ocfg := oculus.DefaultConfig()
	if _, err := oculus.NewImporter(st, idx, ocfg, nil, nil, nil).ImportOnce(ctx); err != nil {
		t.Fatal(err)
	}
	searcher := oculus.NewSearcher(idx, st, ocfg, nil)
	name, desc := "kept", "saved before the test"
	if _, err := searcher.SaveCollection(ctx, "", oculus.CollectionInput{Name: &name, Description: &desc,
		Metrics: []string{"planted.g00000.m00", "planted.g00000.m01"}}); err != nil {
		t.Fatal(err)
	}
	as := openAnomalies(t)
	recs := []anomalies.Record{{Metric: "planted.g00000.m00", Timestamp: now - 60, Value: 3, Score: 0.8, Detectors: []string{"grubbs"}, Profile: "default"}}
	for i, n := range hostile {
		recs = append(recs, anomalies.Record{Metric: n, Timestamp: now - 10 - int64(i), Value: 1, Score: 0.5, Profile: "classic"})
	}
	if err := as.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_test_total", Help: "t"}))
	h := New(cfg, st, reg, nil).WithOculus(searcher).WithAnomalies(as)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &safety{h: h, srv: srv, st: st, idx: idx, as: as, now: now}
}

// answer is what a request got.
type answer struct {
	status int
	header http.Header
	body   string
}

// errorMessage returns the {"error"} of a JSON error answer, failing the
// test when the answer is not one.
func (a answer) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer %d has Content-Type %q, want application/json: %s", a.status, ct, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" {
		t.Errorf("error answer %d is not {\"error\": ...}: %s", a.status, a.body)
	}
	return e.Error
}

// send makes one request; header values "" are left out.
func (s *safety) send(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%v (an EOF: the handler panicked, see the stack above)", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var jsonType = map[string]string{"Content-Type": "application/json"}

// with returns base plus more (more wins).
func with(base map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

const searchBody = `{"values": [0, 0, 0, 0, 5, 20, 40, 40, 40, 40], "limit": 3}`

// collectionIDs lists the index's collections, read directly.
func (s *safety) collectionIDs(t *testing.T) []string {
	t.Helper()
	list, err := s.idx.Collections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}

// Without http.auth every route is open, as before.
func TestAuthOff(t *testing.T) {
	t.Parallel()
	s := newSafety(t, DefaultConfig())
	for _, p := range []string{"/", "/api/metrics", "/api/collections", "/metrics", "/healthz"} {
		if a := s.send(t, "GET", p, "", nil); a.status != 200 || a.header.Get("WWW-Authenticate") != "" {
			t.Errorf("GET %s without auth configured: %d %q", p, a.status, a.header.Get("WWW-Authenticate"))
		}
	}
	if a := s.send(t, "POST", "/api/collections", `{"name": "open", "metrics": ["planted.g00000.m02"]}`, jsonType); a.status != 201 {
		t.Errorf("POST /api/collections without auth configured: %d %s", a.status, a.body)
	}
	if s.h.readOnly() {
		t.Error("readOnly() is true by default")
	}
}

func basicHeader(user, pass string) map[string]string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return map[string]string{"Authorization": r.Header.Get("Authorization")}
}

// wantUnauthorized checks a 401: its challenges and its JSON message.
func wantUnauthorized(t *testing.T, what string, a answer, challenges []string, mentions string) {
	t.Helper()
	if a.status != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401: %s", what, a.status, a.body)
		return
	}
	if diff := cmp.Diff(challenges, a.header.Values("WWW-Authenticate")); diff != "" {
		t.Errorf("%s: WWW-Authenticate (-want +got):\n%s", what, diff)
	}
	if msg := a.errorMessage(t); !strings.Contains(msg, mentions) {
		t.Errorf("%s: error %q does not say to send %q", what, msg, mentions)
	}
}

const basicChallenge = `Basic realm="Kale", charset="UTF-8"`
const bearerChallenge = `Bearer realm="Kale"`

func TestAuthBasic(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Username: "ops", Password: "pa:ss wörd"} // a colon and non-ASCII are allowed in passwords
	s := newSafety(t, cfg)
	ok := basicHeader("ops", "pa:ss wörd")
	challenge := []string{basicChallenge}
	for _, p := range []string{"/", "/api/metrics", "/api/collections", "/metrics", "/static/app.js", "/graph.svg?metric=planted.g00000.m00", "/no/such/route"} {
		wantUnauthorized(t, "GET "+p+" without credentials", s.send(t, "GET", p, "", nil), challenge, "HTTP basic")
	}
	for name, h := range map[string]map[string]string{
		"wrong password":     basicHeader("ops", "pa:ss word"),
		"wrong user":         basicHeader("op", "pa:ss wörd"),
		"empty password":     basicHeader("ops", ""),
		"password prefix":    basicHeader("ops", "pa:ss wö"),
		"password as bearer": {"Authorization": "Bearer pa:ss wörd"},
		"garbled basic":      {"Authorization": "Basic !!!notbase64"},
		"scheme only":        {"Authorization": "Basic"},
	} {
		wantUnauthorized(t, "GET /api/metrics with "+name, s.send(t, "GET", "/api/metrics", "", h), challenge, "HTTP basic")
	}
	if a := s.send(t, "GET", "/api/metrics", "", ok); a.status != 200 {
		t.Errorf("GET /api/metrics with the right credentials: %d %s", a.status, a.body)
	}
	if a := s.send(t, "GET", "/no/such/route", "", ok); a.status != 404 {
		t.Errorf("unknown route with credentials: %d, want 404", a.status)
	}
	// An unauthenticated write is refused before anything else looks at it.
	wantUnauthorized(t, "POST /api/collections without credentials",
		s.send(t, "POST", "/api/collections", `{"name": "x"}`, jsonType), challenge, "HTTP basic")
	if a := s.send(t, "POST", "/api/collections", `{"name": "with basic", "metrics": ["planted.g00000.m02"]}`, with(jsonType, "Authorization", ok["Authorization"])); a.status != 201 {
		t.Errorf("POST /api/collections with credentials: %d %s", a.status, a.body)
	}
	// /healthz stays open for probes, GET and HEAD.
	for _, m := range []string{"GET", "HEAD"} {
		if a := s.send(t, m, "/healthz", "", nil); a.status != 200 {
			t.Errorf("%s /healthz without credentials: %d %s", m, a.status, a.body)
		}
	}
	// ... but nothing else at that path.
	if a := s.send(t, "POST", "/healthz", "{}", jsonType); a.status != 401 {
		t.Errorf("POST /healthz without credentials: %d, want 401", a.status)
	}
}

func TestAuthBearer(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Token: "0123456789abcdef0123456789abcdef"}
	s := newSafety(t, cfg)
	challenge := []string{bearerChallenge}
	for name, h := range map[string]map[string]string{
		"no header":       nil,
		"wrong token":     {"Authorization": "Bearer 0123456789abcdef0123456789abcdeX"},
		"token prefix":    {"Authorization": "Bearer 0123456789abcdef"},
		"token plus more": {"Authorization": "Bearer 0123456789abcdef0123456789abcdef0"},
		"empty token":     {"Authorization": "Bearer "},
		"token as basic":  basicHeader("kale", "0123456789abcdef0123456789abcdef"),
		"raw token":       {"Authorization": "0123456789abcdef0123456789abcdef"},
	} {
		wantUnauthorized(t, "GET /api/metrics, "+name, s.send(t, "GET", "/api/metrics", "", h), challenge, "Authorization: Bearer")
	}
	for _, v := range []string{"Bearer 0123456789abcdef0123456789abcdef", "bearer 0123456789abcdef0123456789abcdef"} {
		if a := s.send(t, "GET", "/metrics", "", map[string]string{"Authorization": v}); a.status != 200 || !strings.Contains(a.body, "kale_test_total") {
			t.Errorf("GET /metrics with %q: %d %s", v, a.status, a.body)
		}
	}
	if a := s.send(t, "GET", "/healthz", "", nil); a.status != 200 {
		t.Errorf("GET /healthz without a token: %d", a.status)
	}
}

// With both, either is enough, and both challenges are offered.
func TestAuthBasicAndBearer(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Username: "ops", Password: "pw", Token: "tok-123"}
	s := newSafety(t, cfg)
	wantUnauthorized(t, "no credentials", s.send(t, "GET", "/api/metrics", "", nil), []string{basicChallenge, bearerChallenge}, " or ")
	for _, h := range []map[string]string{basicHeader("ops", "pw"), {"Authorization": "Bearer tok-123"}} {
		if a := s.send(t, "GET", "/api/metrics", "", h); a.status != 200 {
			t.Errorf("GET /api/metrics with %v: %d", h, a.status)
		}
	}
	// The token is not a password, nor the password a token.
	wantUnauthorized(t, "token as password", s.send(t, "GET", "/api/metrics", "", basicHeader("ops", "tok-123")), []string{basicChallenge, bearerChallenge}, "Bearer")
	wantUnauthorized(t, "password as token", s.send(t, "GET", "/api/metrics", "", map[string]string{"Authorization": "Bearer pw"}), []string{basicChallenge, bearerChallenge}, "Bearer")
}

// env:NAME secrets are read once, at New: the values work, the names
// do not, and a later change of the variable changes nothing.
func TestAuthEnvSecrets(t *testing.T) {
	t.Setenv("KALE_TEST_WEB_PASSWORD", "from-env-pw")
	t.Setenv("KALE_TEST_WEB_TOKEN", "from-env-token")
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Username: "ops", Password: "env:KALE_TEST_WEB_PASSWORD", Token: "env:KALE_TEST_WEB_TOKEN"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := newSafety(t, cfg)
	t.Setenv("KALE_TEST_WEB_PASSWORD", "changed-later")
	for _, h := range []map[string]string{basicHeader("ops", "from-env-pw"), {"Authorization": "Bearer from-env-token"}} {
		if a := s.send(t, "GET", "/api/metrics", "", h); a.status != 200 {
			t.Errorf("GET /api/metrics with %v: %d", h, a.status)
		}
	}
	for _, h := range []map[string]string{basicHeader("ops", "env:KALE_TEST_WEB_PASSWORD"), basicHeader("ops", "changed-later"),
		{"Authorization": "Bearer env:KALE_TEST_WEB_TOKEN"}} {
		if a := s.send(t, "GET", "/api/metrics", "", h); a.status != 401 {
			t.Errorf("GET /api/metrics with %v: %d, want 401", h, a.status)
		}
	}
}

// An env: secret whose variable is unset is an error naming the key and
// the variable; a handler built anyway refuses everything (fail closed)
// and logs why.
func TestAuthMissingEnv(t *testing.T) {
	t.Setenv("KALE_TEST_WEB_UNSET", "")
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Username: "ops", Password: "env:KALE_TEST_WEB_UNSET"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate reads no environment, yet: %v", err)
	}
	_, err := cfg.Auth.Resolve()
	if err == nil || !strings.Contains(err.Error(), "http.auth.password") || !strings.Contains(err.Error(), "KALE_TEST_WEB_UNSET") {
		t.Fatalf("Resolve = %v, want an error naming http.auth.password and KALE_TEST_WEB_UNSET", err)
	}
	cfg.Auth.Token = "env:KALE_TEST_WEB_UNSET"
	if _, err := cfg.Auth.Resolve(); err == nil || !strings.Contains(err.Error(), "http.auth.token") {
		t.Errorf("Resolve with both unset = %v, want the token named too", err)
	}

	// A token read from the environment is checked once read, and the
	// error names the variable, not the value.
	t.Setenv("KALE_TEST_WEB_SPACED", "secret value")
	if _, err := (AuthConfig{Token: "env:KALE_TEST_WEB_SPACED"}).Resolve(); err == nil ||
		!strings.Contains(err.Error(), "KALE_TEST_WEB_SPACED") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Resolve of a spaced token = %v, want an error naming the variable only", err)
	}

	var log bytes.Buffer
	h := New(cfg, openStore(t), nil, slog.New(slog.NewTextHandler(&log, nil)))
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := &safety{h: h, srv: srv}
	for _, p := range []string{"/healthz", "/api/metrics", "/"} {
		a := s.send(t, "GET", p, "", basicHeader("ops", ""))
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("GET %s on a handler whose secret is unset: %d, want 503", p, a.status)
		}
		if msg := a.errorMessage(t); strings.Contains(msg, "KALE_TEST_WEB_UNSET") || !strings.Contains(msg, "log") {
			t.Errorf("GET %s: error %q should point to the log and not describe the config", p, msg)
		}
	}
	if !strings.Contains(log.String(), "KALE_TEST_WEB_UNSET") || !strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("the log does not say which variable is missing: %s", log.String())
	}
}

// Validate names each mistake's key; it never prints a secret.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, a := range []AuthConfig{{}, {Username: "ops", Password: "x"}, {Token: "t0k.en_~+/="},
		{Username: "ops", Password: "env:PW", Token: "env:TOKEN"}, {Username: "ops", Password: "pa:ss wörd"}} {
		c := DefaultConfig()
		c.Auth = a
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	for _, c := range []struct {
		auth AuthConfig
		want string
	}{
		{AuthConfig{Username: "ops"}, "http.auth.password is required"},
		{AuthConfig{Password: "secret-value"}, "http.auth.username is required"},
		{AuthConfig{Username: "o:ps", Password: "secret-value"}, "http.auth.username must hold no colon"},
		{AuthConfig{Username: "ops\n", Password: "secret-value"}, "http.auth.username"},
		{AuthConfig{Username: "ops", Password: "env:"}, `http.auth.password: "env:" names no environment variable`},
		{AuthConfig{Token: "env:"}, `http.auth.token: "env:" names no environment variable`},
		{AuthConfig{Token: "secret value"}, "http.auth.token must be printable ASCII"},
		{AuthConfig{Token: "secret-välue"}, "http.auth.token must be printable ASCII"},
		{AuthConfig{Username: "ops", Password: "secret\x00value"}, "http.auth.password holds a control character"},
	} {
		cfg := DefaultConfig()
		cfg.Auth = c.auth
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: Validate = %v, want %q", c.auth, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error shows the secret: %v", c.auth, err)
		}
	}
	// New refuses an invalid config the same way as an unresolvable one.
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Password: "lonely"}
	srv := httptest.NewServer(New(cfg, openStore(t), nil, nil))
	defer srv.Close()
	if a := (&safety{srv: srv}).send(t, "GET", "/api/metrics", "", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("a password without a username: GET %d, want 503 (fail closed)", a.status)
	}
}

// In read-only mode every route that changes state answers 403 and
// changes nothing; the routes that only read still work.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.ReadOnly = true
	s := newSafety(t, cfg)
	if !s.h.readOnly() {
		t.Fatal("readOnly() is false with ReadOnly set")
	}
	before := s.collectionIDs(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/collections", `{"name": "new", "metrics": ["planted.g00000.m02"]}`},
		{"POST", "/api/collections/kept", `{"name": "renamed"}`},
		{"DELETE", "/api/collections/kept", ""},
	} {
		a := s.send(t, c.method, c.path, c.body, jsonType)
		if a.status != http.StatusForbidden {
			t.Errorf("%s %s in read-only mode: %d, want 403: %s", c.method, c.path, a.status, a.body)
			continue
		}
		if msg := a.errorMessage(t); !strings.Contains(msg, "kale webapp is read-only (http.read_only)") {
			t.Errorf("%s %s: error %q does not name http.read_only", c.method, c.path, msg)
		}
	}
	if diff := cmp.Diff(before, s.collectionIDs(t)); diff != "" {
		t.Errorf("read-only mode changed the collections (-before +after):\n%s", diff)
	}
	var res struct{ Results []struct{ Metric string } }
	a := s.send(t, "POST", "/api/search", searchBody, jsonType)
	if err := json.Unmarshal([]byte(a.body), &res); a.status != 200 || err != nil || len(res.Results) != 3 {
		t.Errorf("POST /api/search in read-only mode: %d %s, want 3 results", a.status, a.body)
	}
	for _, p := range []string{"/api/collections", "/api/collections/kept", "/api/correlate?metric=planted.g00000.m00"} {
		if a := s.send(t, "GET", p, "", nil); a.status != 200 {
			t.Errorf("GET %s in read-only mode: %d %s", p, a.status, a.body)
		}
	}
	// A method no route has is the router's 405, not a 403.
	if a := s.send(t, "PUT", "/api/collections/kept", "{}", jsonType); a.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT in read-only mode: %d, want 405", a.status)
	}

	// Every registered route of an unsafe method is refused unless it is
	// listed in readOnlyRoutes, which holds only registered routes.
	routes := registeredRoutes(t, s.h)
	for _, r := range routes {
		method, _, _ := strings.Cut(r, " ")
		if safeMethod(method) {
			continue
		}
		a := s.send(t, method, routePath(r, "kept"), "{}", jsonType)
		if readOnlyRoutes[r] == (a.status == http.StatusForbidden) {
			t.Errorf("%s in read-only mode: %d (listed in readOnlyRoutes: %v)", r, a.status, readOnlyRoutes[r])
		}
	}
	for r := range readOnlyRoutes {
		if !slices.Contains(routes, r) {
			t.Errorf("readOnlyRoutes lists %q, which is not a registered route", r)
		}
	}
}

// Unsafe requests a browser sends from another site are refused; those of
// Kale's own page and of non-browser clients pass.
func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Username: "ops", Password: "pw"}
	s := newSafety(t, cfg)
	creds := basicHeader("ops", "pw")["Authorization"] // a browser attaches them to cross-site requests too
	self := s.srv.URL                                  // http://127.0.0.1:PORT
	base := with(jsonType, "Authorization", creds)
	n := 0
	create := func(hdr map[string]string) answer {
		n++
		return s.send(t, "POST", "/api/collections", `{"name": "c`+strconv.Itoa(n)+`", "metrics": ["planted.g00000.m03"]}`, hdr)
	}
	for name, hdr := range map[string]map[string]string{
		"Sec-Fetch-Site: cross-site":       with(base, "Sec-Fetch-Site", "cross-site"),
		"Sec-Fetch-Site: same-site":        with(base, "Sec-Fetch-Site", "same-site"),
		"cross-site with our Origin":       with(base, "Sec-Fetch-Site", "cross-site", "Origin", self),
		"Origin of another host":           with(base, "Origin", "http://evil.example"),
		"Origin of another port":           with(base, "Origin", "http://127.0.0.1:1"),
		"Origin null (sandboxed or data:)": with(base, "Origin", "null"),
	} {
		before := s.collectionIDs(t)
		a := create(hdr)
		if a.status != http.StatusForbidden {
			t.Errorf("POST with %s: %d, want 403: %s", name, a.status, a.body)
			continue
		}
		if msg := a.errorMessage(t); !strings.Contains(msg, "cross-origin request refused") {
			t.Errorf("POST with %s: error %q", name, msg)
		}
		if diff := cmp.Diff(before, s.collectionIDs(t)); diff != "" {
			t.Errorf("POST with %s changed the collections:\n%s", name, diff)
		}
	}
	for _, m := range []string{"DELETE"} {
		if a := s.send(t, m, "/api/collections/kept", "", with(base, "Sec-Fetch-Site", "cross-site")); a.status != http.StatusForbidden {
			t.Errorf("cross-site %s: %d, want 403", m, a.status)
		}
	}
	if !slices.Contains(s.collectionIDs(t), "kept") {
		t.Fatal("a cross-site DELETE removed the collection")
	}
	if a := s.send(t, "POST", "/api/search", searchBody, with(base, "Origin", "http://evil.example")); a.status != http.StatusForbidden {
		t.Errorf("cross-origin POST /api/search: %d, want 403", a.status)
	}
	for name, hdr := range map[string]map[string]string{
		"Sec-Fetch-Site: same-origin": with(base, "Sec-Fetch-Site", "same-origin", "Origin", self),
		"Sec-Fetch-Site: none":        with(base, "Sec-Fetch-Site", "none"),
		"our Origin, old browser":     with(base, "Origin", self),
		"no browser headers (curl)":   base,
	} {
		if a := create(hdr); a.status != http.StatusCreated {
			t.Errorf("POST with %s: %d, want 201: %s", name, a.status, a.body)
		}
	}
	// Reads are never refused for their origin (the browser's same-origin
	// policy keeps their answers from the foreign page).
	if a := s.send(t, "GET", "/api/collections", "", with(base, "Sec-Fetch-Site", "cross-site")); a.status != 200 {
		t.Errorf("cross-site GET: %d, want 200", a.status)
	}
}

// Bodies must be declared as JSON: what an HTML form or a no-preflight
// fetch sends is refused with 415 and a message saying what to send.
func TestJSONBodyRequired(t *testing.T) {
	t.Parallel()
	s := newSafety(t, DefaultConfig())
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/jsonx", "not a media type;;"} {
		for _, c := range []struct{ path, body string }{{"/api/search", searchBody}, {"/api/collections", `{"name": "form", "metrics": ["planted.g00000.m02"]}`}} {
			a := s.send(t, "POST", c.path, c.body, map[string]string{"Content-Type": ct})
			if a.status != http.StatusUnsupportedMediaType {
				t.Errorf("POST %s as %q: %d, want 415: %s", c.path, ct, a.status, a.body)
				continue
			}
			if msg := a.errorMessage(t); !strings.Contains(msg, "Content-Type: application/json") {
				t.Errorf("POST %s as %q: error %q does not say what to send", c.path, ct, msg)
			}
		}
	}
	if slices.Contains(s.collectionIDs(t), "form") {
		t.Error("a form POST created a collection")
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		if a := s.send(t, "POST", "/api/search", searchBody, map[string]string{"Content-Type": ct}); a.status != 200 {
			t.Errorf("POST /api/search as %q: %d %s", ct, a.status, a.body)
		}
	}
	// A DELETE has no body and needs no Content-Type.
	if a := s.send(t, "DELETE", "/api/collections/kept", "", nil); a.status != 200 {
		t.Errorf("DELETE without Content-Type: %d %s", a.status, a.body)
	}
}

// registeredRoutes returns the patterns the package's source registers
// on h.mux (every mux.Handle and mux.HandleFunc call of a non-test file),
// checking that each is a literal, and that h's router does route a
// request built from it to it: a route added later is walked without
// editing this test.
func registeredRoutes(t *testing.T, h *Handler) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var routes []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if recv, ok := sel.X.(*ast.SelectorExpr); !ok || recv.Sel.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route registered with a non-literal pattern: the safety tests cannot walk it", fset.Position(call.Pos()))
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			routes = append(routes, p)
			return true
		})
	}
	if len(routes) < 10 || !slices.Contains(routes, healthzRoute) || !slices.Contains(routes, "GET /api/collections") {
		t.Fatalf("found only these routes in the source: %q", routes)
	}
	for _, r := range routes {
		method, _, _ := strings.Cut(r, " ")
		req := httptest.NewRequest(method, routePath(r, "x"), nil)
		if _, got := h.mux.Handler(req); got != r {
			t.Errorf("route %q: a request for %s %s reaches %q", r, method, req.URL, got)
		}
	}
	return routes
}

// routePath turns a route's pattern into a path, fill standing for each
// wildcard and for what follows a trailing slash.
func routePath(pattern, fill string) string {
	_, path, _ := strings.Cut(pattern, " ")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "{$}":
			segs[i] = ""
		case strings.HasPrefix(s, "{"):
			segs[i] = fill
		case s == "" && i == len(segs)-1 && i > 1:
			segs[i] = fill
		}
	}
	return strings.Join(segs, "/")
}

// safetyState is everything a request could change: the store's series,
// the index's generation and shapes, the collections, the anomaly records.
type safetyState struct {
	Series      map[string][]series.Point
	Stats       oculus.Stats
	Docs        map[string]oculus.Doc
	Collections []oculus.Collection
	Anomalies   []anomalies.Record
}

func (s *safety) state(t *testing.T) safetyState {
	t.Helper()
	ctx := context.Background()
	names, err := s.st.Names(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := safetyState{Series: map[string][]series.Point{}, Docs: map[string]oculus.Doc{}}
	for _, n := range names {
		if out.Series[n], err = s.st.Fetch(ctx, n, math.MinInt64, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if d, err := s.idx.Get(ctx, n); err == nil {
			out.Docs[n] = d
		}
	}
	if out.Stats, err = s.idx.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if out.Collections, err = s.idx.Collections(ctx); err != nil {
		t.Fatal(err)
	}
	if out.Anomalies, err = s.as.Since(ctx, math.MinInt64, 0); err != nil {
		t.Fatal(err)
	}
	return out
}

// No GET (or HEAD) route changes anything, whatever its input: every
// registered one is called with hostile paths, queries, headers and
// bodies (a collection to create, method overrides), and the store, the
// index, the collections and the anomaly records are compared before and
// after. A real POST afterwards shows that the comparison sees a change.
func TestGETChangesNothing(t *testing.T) {
	t.Parallel()
	s := newSafety(t, DefaultConfig())
	before := s.state(t)
	if len(before.Series) < 200 || before.Stats.Docs == 0 || len(before.Collections) != 1 || len(before.Anomalies) == 0 {
		t.Fatalf("the fixture is too thin to show a change: %d series, %d docs, %d collections, %d anomalies",
			len(before.Series), before.Stats.Docs, len(before.Collections), len(before.Anomalies))
	}
	fills := []string{"kept", "x", url.PathEscape(hostile[0]), "..%2F..%2Fetc%2Fpasswd", "%00", "app.js"}
	hour := strconv.FormatInt(s.now-3600, 10)
	queries := []string{
		"",
		"metric=planted.g00000.m01&from=" + hour + "&limit=5", // another window: Oculus scans the store
		"metric=planted.g00000.m01&prefix=planted&since=0&range=86400&window=900&filter=planted&v=" + staticVersion,
		"metric=" + url.QueryEscape(hostile[0]) + "&prefix=" + url.QueryEscape(hostile[1]) + "&filter=" + url.QueryEscape(hostile[0]),
		"metric=../../etc/passwd&from=-9223372036854775808&until=9223372036854775807&limit=1000&since=-1&window=-5",
		"metric=%00&from=x&until=y&limit=-1&since=yesterday&range=1e99",
		// What a forged "GET that writes" would try.
		"id=kept&name=evil&description=evil&metrics=planted.g00000.m00&method=DELETE&_method=DELETE&action=delete&values=1,2,3",
	}
	headers := with(jsonType, "X-HTTP-Method-Override", "DELETE", "X-HTTP-Method", "DELETE", "X-Method-Override", "POST",
		"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example")
	body := `{"name": "evil", "description": "made by a GET", "metrics": ["planted.g00000.m05"], "values": [1, 2, 3]}`
	requests, walked := 0, 0
	for _, r := range registeredRoutes(t, s.h) {
		method, _, _ := strings.Cut(r, " ")
		if !safeMethod(method) {
			continue
		}
		walked++
		paths := []string{routePath(r, "x")}
		if routePath(r, "a") != routePath(r, "b") { // a wildcard or a trailing slash
			paths = paths[:0]
			for _, f := range fills {
				paths = append(paths, routePath(r, f))
			}
		}
		for _, p := range paths {
			for _, q := range queries {
				for _, m := range []string{"GET", "HEAD"} {
					target := p
					if q != "" {
						target += "?" + q
					}
					a := s.send(t, m, target, body, headers)
					requests++
					if a.status >= 500 && a.status != http.StatusServiceUnavailable {
						t.Errorf("%s %s: %d %s", m, target, a.status, a.body)
					}
				}
			}
		}
	}
	if requests < 100 {
		t.Fatalf("only %d requests made", requests)
	}
	t.Logf("%d requests over %d GET routes", requests, walked)
	if diff := cmp.Diff(before, s.state(t)); diff != "" {
		t.Fatalf("%d GET and HEAD requests changed the state (-before +after):\n%s", requests, diff)
	}
	if a := s.send(t, "DELETE", "/api/collections/kept", "", nil); a.status != 200 {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
	if cmp.Equal(before, s.state(t)) {
		t.Fatal("the state comparison does not see a deleted collection")
	}
}

// Secrets stay out of what the config prints.
func TestAuthConfigPrintsNoSecret(t *testing.T) {
	t.Parallel()
	c := AuthConfig{Username: "ops", Password: alerters.Secret("hunter2-pw"), Token: alerters.Secret("hunter2-token")}
	b, err := json.Marshal(Config{Auth: c})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	slog.New(slog.NewTextHandler(&log, nil)).Info("config", "http", Config{Auth: c})
	for _, s := range []string{string(b), log.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("a secret is printed: %s", s)
		}
	}
}
