package elastic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/testserver"
	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/oculus/oculustest"
)

// testTimeout bounds each request and wait in the tests.
const testTimeout = 15 * time.Second

// prefixFor turns a test key into an index prefix: lowercase letters,
// digits and '-'.
func prefixFor(key string) string {
	var b strings.Builder
	b.WriteString("kt-")
	for _, r := range strings.ToLower(key) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// testLogger logs to the test (benchmarks log nothing).
func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// open connects to z with the given prefix and deletes the prefix's
// indexes when the test ends.
func open(t testing.TB, z *testserver.Zinc, prefix string) *Index {
	t.Helper()
	x, err := New(context.Background(), oculus.ElasticConfig{
		URLs: []string{z.URL}, Index: prefix, Username: z.User, Password: z.Password, Timeout: testTimeout,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		x.Close()
		z.DeleteIndexes(t, prefix+"-")
	})
	return x
}

func TestConformance(t *testing.T) {
	z := testserver.StartZinc(t)
	oculustest.Run(t, func(t *testing.T, key string) oculus.Index {
		return open(t, z, prefixFor(key))
	})
}

// shape returns a document of the given points shaped as the importer
// shapes.
func shape(t testing.TB, metric string, values []float64, points int) oculus.Doc {
	t.Helper()
	d, err := oculus.ShapeOf(values, points)
	if err != nil {
		t.Fatal(err)
	}
	d.Metric = metric
	return d
}

func walk(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float64, n)
	x := 0.0
	for i := range v {
		x += r.NormFloat64()
		v[i] = x
	}
	return v
}

// commit builds and commits one generation of docs.
func commit(t testing.TB, x oculus.Index, w oculus.Window, points int, docs []oculus.Doc) {
	t.Helper()
	ctx := context.Background()
	b, err := x.Build(ctx, w, points)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := b.Add(ctx, docs); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestSwap rebuilds the index several times while readers poll Get and
// Candidates for metrics present in every generation: none may ever see
// ErrNotIndexed, ErrNoIndex or an error. After each Commit exactly one
// concrete metrics index is left, a new one, and Stats describes it.
func TestSwap(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix := prefixFor(t.Name())
	x := open(t, z, prefix)
	ctx := context.Background()
	const points = 40
	// Every generation holds the same shapes, so that a read may mix
	// generations (Get from one, Candidates from the next).
	var docs []oculus.Doc
	for i := range 60 {
		docs = append(docs, shape(t, "m"+strconv.Itoa(i), walk(uint64(i), points), points))
	}
	gen := func(uint64) []oculus.Doc { return docs }
	now := time.Now().Unix()
	commit(t, x, oculus.Window{From: now - 3600, Until: now}, points, gen(1))
	first := z.IndexNames(t, prefix+"-metrics-")
	if len(first) != 1 {
		t.Fatalf("after the first Commit, metrics indexes = %v, want one", first)
	}
	for _, d := range docs { // what the readers below rely on
		c, err := x.Candidates(ctx, oculus.Query{Values: d.Values, Fingerprint: d.Fingerprint}, 5)
		if err != nil || !slices.ContainsFunc(c, func(c oculus.Doc) bool { return c.Metric == d.Metric }) {
			t.Fatalf("Candidates(%s) = %d docs without it, %v", d.Metric, len(c), err)
		}
	}

	var (
		stop  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		fails []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(fails) < 10 {
			fails = append(fails, fmt.Sprintf(format, args...))
		}
	}
	for r := range 3 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				metric := "m" + strconv.Itoa((r*17+i)%60)
				d, err := x.Get(ctx, metric)
				if err != nil || d.Metric != metric || len(d.Values) != points {
					fail("Get(%s) during a rebuild = %q with %d values, %v", metric, d.Metric, len(d.Values), err)
				}
				if i%4 == 0 {
					// Not excluded, the metric itself matches best.
					c, err := x.Candidates(ctx, oculus.Query{Values: d.Values, Fingerprint: d.Fingerprint}, 5)
					if err != nil || !slices.ContainsFunc(c, func(c oculus.Doc) bool { return c.Metric == metric }) {
						fail("Candidates(%s) during a rebuild = %d docs without it, %v", metric, len(c), err)
					}
				}
				reads.Add(1)
			}
		})
	}
	prev := first[0]
	for g := range 4 {
		w := oculus.Window{From: now - 3600 + int64(g+1)*120, Until: now + int64(g+1)*120}
		commit(t, x, w, points, gen(uint64(g+2)))
		names := z.IndexNames(t, prefix+"-metrics-")
		if len(names) != 1 || names[0] == prev {
			t.Errorf("after Commit %d, metrics indexes = %v; want one, not the previous %s", g+2, names, prev)
		}
		if len(names) > 0 {
			prev = names[0]
		}
		if st, err := x.Stats(ctx); err != nil || st.Window != w || st.Docs != 60 || st.Points != points {
			t.Errorf("after Commit %d, Stats = %+v, %v; want 60 docs over %v", g+2, st, err, w)
		}
	}
	stop.Store(true)
	wg.Wait()
	for _, f := range fails {
		t.Error(f)
	}
	if reads.Load() < 10 {
		t.Errorf("the readers made only %d reads during the rebuilds", reads.Load())
	}
	t.Logf("%d reads during 4 rebuilds", reads.Load())
}

// TestAbort: an aborted generation's index is deleted, the current one
// answers on.
func TestAbort(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix := prefixFor(t.Name())
	x := open(t, z, prefix)
	ctx := context.Background()
	now := time.Now().Unix()
	w := oculus.Window{From: now - 60, Until: now}
	commit(t, x, w, 8, []oculus.Doc{shape(t, "a", walk(1, 8), 8)})
	cur := z.IndexNames(t, prefix+"-metrics-")

	b, err := x.Build(ctx, oculus.Window{From: now, Until: now + 60}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, []oculus.Doc{shape(t, "b", walk(2, 8), 8)}); err != nil {
		t.Fatal(err)
	}
	if got := z.IndexNames(t, prefix+"-metrics-"); len(got) != 2 {
		t.Fatalf("during a build, metrics indexes = %v, want 2", got)
	}
	if err := b.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if got := z.IndexNames(t, prefix+"-metrics-"); !slices.Equal(got, cur) {
		t.Errorf("after Abort, metrics indexes = %v, want %v", got, cur)
	}
	if err := b.Add(ctx, nil); err == nil {
		t.Error("Add after Abort was accepted")
	}
	if _, err := x.Get(ctx, "a"); err != nil {
		t.Errorf("after Abort, Get(a) = %v", err)
	}
	if st, _ := x.Stats(ctx); st.Window != w {
		t.Errorf("after Abort, Stats = %+v; want the committed window %v", st, w)
	}
}

// TestSweep: a generation abandoned by a process that stopped between
// Build and Commit is deleted by a later Build once it is older than the
// orphan age, and never while it is younger (it may be another import's).
func TestSweep(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix := prefixFor(t.Name())
	ctx := context.Background()
	now := time.Now().Unix()
	w := oculus.Window{From: now - 60, Until: now}

	crashed := open(t, z, prefix)
	commit(t, crashed, w, 8, []oculus.Doc{shape(t, "a", walk(1, 8), 8)})
	b, err := crashed.Build(ctx, w, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, []oculus.Doc{shape(t, "b", walk(2, 8), 8)}); err != nil {
		t.Fatal(err)
	}
	crashed.Close() // never committed nor aborted
	if got := z.IndexNames(t, prefix+"-metrics-"); len(got) != 2 {
		t.Fatalf("after the crash, metrics indexes = %v, want the current and the abandoned one", got)
	}

	x := open(t, z, prefix)
	commit(t, x, w, 8, []oculus.Doc{shape(t, "c", walk(3, 8), 8)})
	if got := z.IndexNames(t, prefix+"-metrics-"); len(got) != 2 {
		t.Errorf("a young abandoned generation was swept: metrics indexes = %v, want it and the new current one", got)
	}
	x.orphanAge = 0
	commit(t, x, w, 8, []oculus.Doc{shape(t, "d", walk(4, 8), 8)})
	got := z.IndexNames(t, prefix+"-metrics-")
	if len(got) != 1 {
		t.Fatalf("after a Build with orphan age 0, metrics indexes = %v, want only the current one", got)
	}
	if _, err := x.Get(ctx, "d"); err != nil {
		t.Errorf("Get(d) = %v", err)
	}
	if st, err := x.Stats(ctx); err != nil || st.Docs != 1 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
}

// TestRestart: the generation (documents, window, points, build time) and
// the alias survive a restart of ZincSearch and a new Index.
func TestRestart(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix := prefixFor(t.Name())
	x := open(t, z, prefix)
	ctx := context.Background()
	now := time.Now().Unix()
	w := oculus.Window{From: now - 3600, Until: now}
	want := shape(t, "disk.used", walk(3, 30), 30)
	commit(t, x, w, 30, []oculus.Doc{want, shape(t, "cpu", walk(4, 30), 30)})
	st, err := x.Stats(ctx)
	if err != nil || st.Docs != 2 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	x.Close()
	if _, err := x.Stats(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close = %v, want ErrClosed", err)
	}

	z.Restart(t)
	y := open(t, z, prefix)
	got, err := y.Stats(ctx)
	if err != nil || got.Docs != 2 || got.Window != w || got.Points != 30 || !got.Built.Equal(st.Built) {
		t.Errorf("after a restart, Stats = %+v, %v; want %+v", got, err, st)
	}
	d, err := y.Get(ctx, "disk.used")
	if err != nil || d.Fingerprint != want.Fingerprint || !slices.Equal(d.Values, want.Values) {
		t.Errorf("after a restart, Get = %+v, %v; want %+v", d, err, want)
	}
}

// TestDrop: Drop deletes the generation, state and collections indexes
// of its prefix and no other prefix's.
func TestDrop(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix, other := prefixFor(t.Name()), prefixFor("other-"+t.Name())
	x, y := open(t, z, prefix), open(t, z, other)
	ctx := context.Background()
	now := time.Now().Unix()
	w := oculus.Window{From: now - 3600, Until: now}
	for _, ix := range []*Index{x, y} {
		commit(t, ix, w, 30, []oculus.Doc{shape(t, "cpu", walk(4, 30), 30)})
		if err := ix.PutCollection(ctx, oculus.Collection{ID: "c", Name: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := z.IndexNames(t, prefix+"-"); len(got) != 3 {
		t.Fatalf("before Drop, indexes %v; want a generation, state and collections", got)
	}
	if err := x.Drop(ctx); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if got := z.IndexNames(t, prefix+"-"); len(got) != 0 {
		t.Errorf("after Drop, indexes %v are left", got)
	}
	if got := z.IndexNames(t, other+"-"); len(got) != 3 {
		t.Errorf("Drop of %s left %v of %s; want its 3 indexes", prefix, got, other)
	}
	if _, err := y.Get(ctx, "cpu"); err != nil {
		t.Errorf("the other prefix after Drop: Get = %v", err)
	}
}

// TestPassword: "env:NAME" reads the password from the environment; an
// unset variable and a wrong password are clear errors.
func TestPassword(t *testing.T) {
	z := testserver.StartZinc(t)
	ctx := context.Background()
	cfg := oculus.ElasticConfig{URLs: []string{z.URL}, Index: "kt-password", Username: z.User, Timeout: testTimeout}
	t.Cleanup(func() { z.DeleteIndexes(t, "kt-password-") })

	t.Setenv("KALE_TEST_ES_PASSWORD", z.Password)
	cfg.Password = "env:KALE_TEST_ES_PASSWORD"
	x, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("New with env:KALE_TEST_ES_PASSWORD: %v", err)
	}
	if err := x.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	x.Close()

	cfg.Password = "env:KALE_TEST_ES_PASSWORD_UNSET"
	if _, err := New(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "KALE_TEST_ES_PASSWORD_UNSET is not set") {
		t.Errorf("New with an unset variable: %v; want an error naming it", err)
	}
	cfg.Password = "wrong"
	if _, err := New(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "password") {
		t.Errorf("New with a wrong password: %v; want a 401 that says to check the password", err)
	}
}

// TestUnreachable: a URL where nothing listens is an error naming it and
// what to check.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	_, err = New(context.Background(), oculus.ElasticConfig{URLs: []string{url}, Index: "kale", Timeout: 5 * time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "check that the cluster runs") {
		t.Errorf("New(%s) = %v; want an error naming the URL and what to check", url, err)
	}
	// A password in the URL is not shown.
	withPass := strings.Replace(url, "http://", "http://kale:s3cret@", 1)
	_, err = New(context.Background(), oculus.ElasticConfig{URLs: []string{withPass}, Index: "kale", Timeout: 5 * time.Second}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "kale:xxxxx@") {
		t.Errorf("New(%s) = %v; want an error with the password redacted", withPass, err)
	}
}

// TestConfigErrors: bad configurations are refused before any request.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  oculus.ElasticConfig
		want string
	}{
		{oculus.ElasticConfig{Index: "kale"}, "no URL"},
		{oculus.ElasticConfig{URLs: []string{"127.0.0.1:9200"}, Index: "kale"}, "not an http(s) URL"},
		{oculus.ElasticConfig{URLs: []string{"http://127.0.0.1:1"}, Index: "Kale"}, "index prefix"},
		{oculus.ElasticConfig{URLs: []string{"http://127.0.0.1:1"}, Index: "_kale"}, "index prefix"},
		{oculus.ElasticConfig{URLs: []string{"http://127.0.0.1:1"}, Index: ""}, "index prefix"},
		{oculus.ElasticConfig{URLs: []string{"http://127.0.0.1:1"}, Index: "kale", Password: "env:"}, "without a variable name"},
		{oculus.ElasticConfig{URLs: []string{"http://127.0.0.1:1"}, Index: "kale", Query: "phrase"}, "want tokens or shingles"},
	} {
		if _, err := New(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v; want an error with %q", c.cfg, err, c.want)
		}
	}
}

// TestBadDocs: Add refuses documents it cannot index, naming them.
func TestBadDocs(t *testing.T) {
	z := testserver.StartZinc(t)
	x := open(t, z, prefixFor(t.Name()))
	ctx := context.Background()
	now := time.Now().Unix()
	b, err := x.Build(ctx, oculus.Window{From: now - 60, Until: now}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Abort(ctx)
	for _, d := range []oculus.Doc{
		{Metric: "short", Values: []float32{1, 2}},
		{Metric: "", Values: []float32{1, 2, 3, 4}},
		{Metric: "words", Values: []float32{1, 2, 3, 4}, Fingerprint: "up down"},
	} {
		if err := b.Add(ctx, []oculus.Doc{d}); err == nil || d.Metric != "" && !strings.Contains(err.Error(), d.Metric) {
			t.Errorf("Add(%+v) = %v; want an error naming it", d, err)
		}
	}
}

// TestReadDuringSwap replaces the generation between the moment a read
// resolves it and the moment it searches it (the window a concurrent
// Commit can hit, too narrow for TestSwap to hit reliably): the read must
// find the metric in the new generation, not report it missing.
func TestReadDuringSwap(t *testing.T) {
	z := testserver.StartZinc(t)
	prefix := prefixFor(t.Name())
	x := open(t, z, prefix)
	ctx := context.Background()
	now := time.Now().Unix()
	both := shape(t, "both", walk(1, 16), 16) // in every generation
	docs := func(seed uint64) []oculus.Doc {
		return []oculus.Doc{both, shape(t, "other"+strconv.Itoa(int(seed)), walk(seed+1, 16), 16)}
	}
	commit(t, x, oculus.Window{From: now - 60, Until: now}, 16, docs(1))
	for _, read := range []struct {
		name string
		fn   func() error
	}{
		{"Get", func() error { _, err := x.Get(ctx, "both"); return err }},
		{"Candidates", func() error {
			c, err := x.Candidates(ctx, oculus.Query{Values: both.Values, Fingerprint: both.Fingerprint}, 5)
			if err == nil && !slices.ContainsFunc(c, func(d oculus.Doc) bool { return d.Metric == "both" }) {
				err = fmt.Errorf("the candidates %v miss the metric itself", c)
			}
			return err
		}},
	} {
		seed := uint64(10)
		swapped := 0
		x.afterResolve = func(g generation) {
			if swapped > 0 {
				return
			}
			swapped++
			seed += 10
			commit(t, x, oculus.Window{From: now, Until: now + int64(seed)}, 16, docs(seed))
			if names := z.IndexNames(t, g.index); len(names) != 0 {
				t.Fatalf("the generation %s the read resolved is not dropped: %v", g.index, names)
			}
		}
		if err := read.fn(); err != nil {
			t.Errorf("%s while the generation was replaced: %v", read.name, err)
		}
		if swapped != 1 {
			t.Errorf("%s did not resolve the generation", read.name)
		}
	}
	x.afterResolve = nil
}

// TestBulkRetry sends ZincSearch a bulk body with a document its mapping
// refuses between two good ones: the good ones must be indexed (the one
// ZincSearch never tried is retried first), and the error must name the
// bad one.
func TestBulkRetry(t *testing.T) {
	z := testserver.StartZinc(t)
	x := open(t, z, prefixFor(t.Name()))
	ctx := context.Background()
	now := time.Now().Unix()
	bl, err := x.Build(ctx, oculus.Window{From: now - 60, Until: now}, 4)
	if err != nil {
		t.Fatal(err)
	}
	b := bl.(*builder)
	defer b.Abort(ctx)
	var body strings.Builder
	for _, m := range []string{"good1", "bad", "good2"} {
		flat := "false"
		if m == "bad" {
			flat = `"not a boolean"`
		}
		fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":%q}}`+"\n", b.index, m)
		fmt.Fprintf(&body, `{"metric":%q,"values":[1,2,3,4],"tokens":["p00l1"],"flat":%s}`+"\n", m, flat)
	}
	err = b.send(ctx, []byte(body.String()), []string{"good1", "bad", "good2"})
	if err == nil || !strings.Contains(err.Error(), "1 of 3 documents") || !strings.Contains(err.Error(), "bad: ") {
		t.Errorf("send = %v; want 1 of 3 failed, naming bad", err)
	}
	if _, ok := b.ids["good1"]; !ok {
		t.Error("good1 was not indexed")
	}
	if _, ok := b.ids["good2"]; !ok {
		t.Error("good2, after the bad document, was not indexed on retry")
	}
}
