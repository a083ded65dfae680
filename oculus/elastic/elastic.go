package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/go-kale/kale/oculus"
)

// DefaultTimeout bounds each request (and each wait for writes to become
// visible) when ElasticConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds how much of one answer is read: 10,000 candidates of
// 1,000 points are about 80 MB of JSON.
const maxAnswer = 256 << 20

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("oculus/elastic: the index is closed")

// Index is the Elasticsearch backend of oculus.Index. It is safe for
// concurrent use.
type Index struct {
	es       *elasticsearch.Client
	tr       *http.Transport
	urls     []string
	shown    string // the URLs for messages, passwords redacted
	user     string
	password string
	timeout  time.Duration
	log      *slog.Logger
	cand     candidateParams

	prefix      string
	alias       string // <prefix>-metrics, the current generation
	state       string // <prefix>-state, one document per committed generation
	collections string // <prefix>-collections

	mu   sync.Mutex
	gens map[string]generation // state documents read so far (immutable)

	// orphanAge is how old an abandoned generation must be for sweep to
	// delete it (orphanAge; tests lower it).
	orphanAge time.Duration

	putMu  sync.Mutex // serialises PutCollection's name check and write in this process
	closed atomic.Bool

	// afterResolve, when set (by tests), runs between resolving the
	// current generation and reading it, where a concurrent Commit can
	// replace and drop it.
	afterResolve func(generation)
}

// New connects to the cluster, checks that it answers (Info) and that the
// credentials are accepted, and creates the state and collections indexes
// when missing. cfg.Password "env:NAME" reads the password from the
// environment variable NAME. logger may be nil.
func New(ctx context.Context, cfg oculus.ElasticConfig, logger *slog.Logger) (*Index, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("oculus/elastic: no URL: set oculus.elasticsearch.urls (--elasticsearch), e.g. http://127.0.0.1:9200")
	}
	var shown []string
	for _, u := range cfg.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("oculus/elastic: oculus.elasticsearch.urls: %s is not an http(s) URL of an Elasticsearch node (e.g. http://127.0.0.1:9200)", redact(u))
		}
		shown = append(shown, p.Redacted())
	}
	if err := checkPrefix(cfg.Index); err != nil {
		return nil, err
	}
	cand := defaultCandidateParams
	switch cfg.Query {
	case "", oculus.QueryTokens:
	case oculus.QueryShingles:
		cand = shinglesCandidateParams
	default:
		return nil, fmt.Errorf("oculus/elastic: oculus.elasticsearch.query %q: want %s or %s", cfg.Query, oculus.QueryTokens, oculus.QueryShingles)
	}
	password, err := resolvePassword(cfg.Password)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:    cfg.URLs,
		Username:     cfg.Username,
		Password:     password,
		Transport:    tr,
		RetryBackoff: func(attempt int) time.Duration { return time.Duration(attempt) * 100 * time.Millisecond },
	})
	if err != nil {
		return nil, fmt.Errorf("oculus/elastic: cannot set up the client for %s: %w", strings.Join(shown, ", "), err)
	}
	x := &Index{
		es: es, tr: tr, urls: cfg.URLs, shown: strings.Join(shown, ", "), user: cfg.Username, password: password, timeout: timeout, log: logger,
		cand: cand, orphanAge: orphanAge,
		prefix: cfg.Index, alias: cfg.Index + "-metrics", state: cfg.Index + "-state",
		collections: cfg.Index + "-collections",
		gens:        map[string]generation{},
	}
	if err := x.info(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	for _, ix := range []struct {
		name    string
		mapping string
	}{{x.state, stateMapping}, {x.collections, collectionsMapping}} {
		if err := x.ensureIndex(ctx, ix.name, ix.mapping); err != nil {
			tr.CloseIdleConnections()
			return nil, err
		}
	}
	return x, nil
}

// info calls Info first: the client checks the X-Elastic-Product header
// on its first successful answer only, and ZincSearch omits it on some
// routes (_refresh, _delete_by_query), so the first answer must come from
// one that has it.
func (x *Index) info(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	res, err := x.es.Info(x.es.Info.WithContext(ctx))
	if err != nil {
		return x.unreachable(ctx, "GET /", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.IsError() {
		return x.statusError("GET / (cluster info)", res.StatusCode, body)
	}
	var info struct {
		Name    string `json:"name"`
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	_ = json.Unmarshal(body, &info) // for the log only
	// ZincSearch names itself "zinc" and reports the client's version as
	// its own.
	x.log.Info("oculus connected to Elasticsearch", "urls", x.shown, "node", info.Name, "version", info.Version.Number, "prefix", x.prefix)
	return nil
}

// redact hides the password of a URL that may not parse.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return strconv.Quote(p.Redacted())
	}
	if at := strings.LastIndex(u, "@"); at >= 0 {
		return strconv.Quote("..." + u[at:])
	}
	return strconv.Quote(u)
}

// checkPrefix accepts index-name prefixes Elasticsearch accepts: lowercase
// letters, digits, '.', '_' and '-', not starting with '-', '_' or '.'.
func checkPrefix(p string) error {
	bad := p == "" || len(p) > 200 || strings.ContainsAny(p[:1], "-_.")
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("oculus/elastic: index prefix %q (oculus.elasticsearch.index): want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", p)
	}
	return nil
}

// resolvePassword reads "env:NAME" from the environment.
func resolvePassword(p string) (string, error) {
	name, ok := strings.CutPrefix(p, "env:")
	if !ok {
		return p, nil
	}
	if name == "" {
		return "", errors.New(`oculus/elastic: oculus.elasticsearch.password is "env:" without a variable name: write env:NAME`)
	}
	v, set := os.LookupEnv(name)
	if !set || v == "" {
		return "", fmt.Errorf("oculus/elastic: oculus.elasticsearch.password is %q but the environment variable %s is not set or empty: export it before starting Kale",
			p, name)
	}
	return v, nil
}

// Ping reports whether the cluster answers an authenticated request (HEAD
// of the collections index).
func (x *Index) Ping(ctx context.Context) error {
	status, body, err := x.do(ctx, http.MethodHead, "/"+x.collections, nil)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusNotFound:
		return fmt.Errorf("oculus/elastic: the collections index %s is missing at %s: restart Kale to create it (were its indexes deleted?)",
			x.collections, x.shown)
	}
	return x.statusError("HEAD /"+x.collections, status, body)
}

// Close releases the client's connections. The indexes stay on the
// cluster.
func (x *Index) Close() error {
	if x.closed.Swap(true) {
		return nil
	}
	x.tr.CloseIdleConnections()
	return nil
}

// do sends one request through the client (which picks a node, retries on
// 502/503/504 and adds the credentials) and returns the status and body.
// It bounds the request by the configured timeout.
func (x *Index) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	return x.doType(ctx, method, path, body, "application/json")
}

func (x *Index) doType(ctx context.Context, method, path string, body []byte, contentType string) (int, []byte, error) {
	if x.closed.Load() {
		return 0, nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("oculus/elastic: bad request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := x.es.Perform(req)
	if err != nil {
		return 0, nil, x.unreachable(ctx, method+" "+path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, x.unreachable(ctx, method+" "+path, err)
	}
	if len(b) > maxAnswer {
		return 0, nil, fmt.Errorf("oculus/elastic: %s %s answered more than %d MB: ask for fewer candidates", method, path, maxAnswer>>20)
	}
	return res.StatusCode, b, nil
}

// unreachable explains a transport error.
func (x *Index) unreachable(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("oculus/elastic: %s at %s: %w (timeout %v)", what, x.shown, err, x.timeout)
	}
	return fmt.Errorf("oculus/elastic: cannot reach Elasticsearch at %s (%s): %w; check that the cluster runs and listens there, that oculus.elasticsearch.urls is right (ZincSearch serves the API under /es), and that no firewall or proxy is in the way",
		x.shown, what, err)
}

// apiError is a non-2xx answer.
type apiError struct {
	What   string
	Status int
	Reason string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("oculus/elastic: %s: %d %s: %s", e.What, e.Status, http.StatusText(e.Status), e.Reason)
}

// statusError turns a non-2xx answer into an error that says what to do.
func (x *Index) statusError(what string, status int, body []byte) error {
	switch status {
	case http.StatusUnauthorized:
		return fmt.Errorf("oculus/elastic: %s at %s: the server refused the credentials (401): check oculus.elasticsearch.username and password",
			what, x.shown)
	case http.StatusForbidden:
		return fmt.Errorf("oculus/elastic: %s at %s: user %q is not allowed (403): grant it all privileges on the indexes %s-* and the right to manage their aliases",
			what, x.shown, x.user, x.prefix)
	}
	reason, ok := decodeError(body)
	if !ok {
		reason = excerpt(body)
	}
	return &apiError{What: what, Status: status, Reason: reason}
}

// ensureIndex creates name with mapping unless it exists.
func (x *Index) ensureIndex(ctx context.Context, name, mapping string) error {
	status, body, err := x.do(ctx, http.MethodHead, "/"+name, nil)
	if err != nil {
		return err
	}
	switch status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
	default:
		return x.statusError("HEAD /"+name, status, body)
	}
	status, body, err = x.do(ctx, http.MethodPut, "/"+name, []byte(mapping))
	if err != nil {
		return err
	}
	if status/100 == 2 {
		return nil
	}
	// Another Kale may have created it meanwhile.
	if s, _, err := x.do(ctx, http.MethodHead, "/"+name, nil); err == nil && s == http.StatusOK {
		return nil
	}
	return x.statusError("create index "+name, status, body)
}

// deleteIndex deletes a concrete index: DELETE /<index>, or, on
// ZincSearch, which has no such route (it answers a bare 404), its own
// DELETE /api/index/<index>. An index that is already gone is no error.
func (x *Index) deleteIndex(ctx context.Context, name string) error {
	status, body, err := x.do(ctx, http.MethodDelete, "/"+name, nil)
	if err != nil {
		return err
	}
	switch {
	case status/100 == 2:
		return nil
	case status == http.StatusNotFound:
		if _, isES := decodeError(body); isES {
			return nil // index_not_found_exception: gone already
		}
		return x.zincDeleteIndex(ctx, name)
	}
	return x.statusError("delete index "+name, status, body)
}

// search runs a search request on index and decodes the answer.
func (x *Index) search(ctx context.Context, index string, query any) (searchResult, error) {
	b, err := json.Marshal(query)
	if err != nil {
		return searchResult{}, fmt.Errorf("oculus/elastic: cannot encode a search: %w", err)
	}
	status, body, err := x.do(ctx, http.MethodPost, "/"+index+"/_search", b)
	if err != nil {
		return searchResult{}, err
	}
	if status/100 != 2 {
		return searchResult{}, x.statusError("search "+index, status, body)
	}
	r, err := decodeSearch(body)
	if err != nil {
		return searchResult{}, fmt.Errorf("oculus/elastic: search %s: %w", index, err)
	}
	return r, nil
}

// bulk sends NDJSON actions to /<index>/_bulk and returns each action's
// outcome. refresh asks Elasticsearch to make the writes visible before it
// answers (ZincSearch ignores it: callers poll).
func (x *Index) bulk(ctx context.Context, index string, body []byte, n int, refresh bool) ([]bulkItemResult, error) {
	path := "/" + index + "/_bulk"
	if refresh {
		path += "?refresh=wait_for"
	}
	status, resp, err := x.doType(ctx, http.MethodPost, path, body, "application/x-ndjson")
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, x.statusError("bulk write to "+index, status, resp)
	}
	items, err := decodeBulk(resp, n)
	if err != nil {
		return nil, fmt.Errorf("oculus/elastic: bulk write to %s: %w", index, err)
	}
	return items, nil
}

// putDoc writes one document, src (JSON), under id into index through
// _bulk; what is not written is an error saying what (e.g. "the state of
// kale-metrics-1").
func (x *Index) putDoc(ctx context.Context, index, id string, src []byte, refresh bool, what string) error {
	action, err := json.Marshal(map[string]any{"index": map[string]string{"_index": index, "_id": id}})
	if err != nil {
		return err
	}
	items, err := x.bulk(ctx, index, append(append(append(action, '\n'), src...), '\n'), 1, refresh)
	if err != nil {
		return err
	}
	if items[0].Failed {
		return fmt.Errorf("oculus/elastic: cannot write %s to %s: %s", what, index, items[0].Reason)
	}
	return nil
}

// waitFor polls cond until it reports true, the timeout passes or ctx
// ends. Writes become searchable after a refresh on Elasticsearch (within
// its refresh_interval, or at once for the small writes that ask for
// refresh=wait_for) but only once ZincSearch has consumed its write-ahead
// log (every ZINC_WAL_SYNC_INTERVAL, 1 s by default), whatever the
// request asked: so every write that must be visible when its method
// returns is followed by a poll.
func (x *Index) waitFor(ctx context.Context, what string, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(x.timeout)
	sleep := 5 * time.Millisecond
	for {
		ok, state, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("oculus/elastic: %s did not happen within %v (%s): the cluster is overloaded or lost writes",
				what, x.timeout, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
		sleep = min(2*sleep, 100*time.Millisecond)
	}
}

// Mappings. Fields searched are mapped explicitly; "dynamic": false keeps
// Elasticsearch from indexing anything else (ZincSearch ignores it, which
// is why nothing else is ever written).
const (
	metricsMapping = `{
  "settings": {"number_of_shards": 1},
  "mappings": {"dynamic": false, "properties": {
    "metric":      {"type": "keyword"},
    "fingerprint": {"type": "text", "analyzer": "whitespace"},
    "shingles":    {"type": "keyword"},
    "tokens":      {"type": "keyword"},
    "values":      {"type": "float", "index": false, "doc_values": false},
    "flat":        {"type": "boolean"}
  }}
}`
	stateMapping = `{
  "settings": {"number_of_shards": 1},
  "mappings": {"dynamic": false, "properties": {
    "index":  {"type": "keyword"},
    "from":   {"type": "long", "index": false},
    "until":  {"type": "long", "index": false},
    "points": {"type": "integer", "index": false},
    "docs":   {"type": "long", "index": false},
    "built":  {"type": "keyword", "index": false, "doc_values": false}
  }}
}`
	collectionsMapping = `{
  "settings": {"number_of_shards": 1},
  "mappings": {"dynamic": false, "properties": {
    "id":         {"type": "keyword"},
    "name":       {"type": "keyword"},
    "collection": {"type": "keyword", "index": false, "doc_values": false}
  }}
}`
)
