package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/testserver"
)

// Metrics written through Horizon (pickle) into `kale run` are imported
// into Oculus's index within seconds, and GET /api/correlate returns a
// metric's planted partners first; a collection saved through the API
// survives a restart and is listed by a search that resembles it.
func TestOculusEndToEnd(t *testing.T) {
	t.Parallel()
	oculusEndToEnd(t, nil, "")
}

// The same through kale run --elasticsearch, on ZincSearch: the
// generations, the alias swap every oculus.interval and the collections
// all live in the cluster.
func TestOculusEndToEndElasticsearch(t *testing.T) {
	t.Parallel()
	z := testserver.StartZinc(t)
	k := oculusEndToEnd(t, []string{"KALE_E2E_ES_PASSWORD=" + z.Password},
		fmt.Sprintf("elasticsearch:\n  index: kale-e2e\n  username: %q\n  password: env:KALE_E2E_ES_PASSWORD\n", z.User),
		"--elasticsearch", z.URL)
	// The data is in the cluster. Replaced generations were deleted; the
	// one being built when kale stopped was too, or (when a write it gave
	// up on recreated it) is registered for the next import's sweep.
	k.stop(t)
	names := z.IndexNames(t, "kale-e2e-")
	if !slices.Contains(names, "kale-e2e-collections") {
		t.Errorf("no collections index in ZincSearch: %v", names)
	}
	var alias map[string]any
	zincJSON(t, z, "GET", "/_alias/kale-e2e-metrics", "", &alias)
	var state struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			}
		}
	}
	zincJSON(t, z, "POST", "/kale-e2e-state/_search", `{"size": 100, "query": {"match_all": {}}}`, &state)
	registered := map[string]bool{}
	for _, h := range state.Hits.Hits {
		registered[h.ID] = true
	}
	current := 0
	for _, name := range names {
		switch {
		case !strings.HasPrefix(name, "kale-e2e-metrics-"):
		case alias[name] != nil:
			current++
		case !registered[name]:
			t.Errorf("generation %s is neither current nor registered for the sweep (indexes %v, alias %v, state %v)", name, names, alias, registered)
		}
	}
	if current != 1 {
		t.Errorf("%d generations behind the alias kale-e2e-metrics, want 1: %v", current, alias)
	}
}

// zincJSON sends a request to z's Elasticsearch API and decodes its answer.
func zincJSON(t *testing.T, z *testserver.Zinc, method, path, body string, out any) {
	t.Helper()
	status, b := z.ES(t, method, path, body)
	if err := json.Unmarshal(b, out); err != nil || status != 200 {
		t.Fatalf("%s %s: %d %v", method, path, status, err)
	}
}

// oculusEndToEnd runs kale run with env added to its environment,
// extraConfig appended to its configuration file and extraArgs to its
// command line, and returns it running.
func oculusEndToEnd(t *testing.T, env []string, extraConfig string, extraArgs ...string) *kaleProc {
	dataDir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "kale.yaml")
	if err := os.WriteFile(cfgFile, []byte("oculus:\n  interval: 500ms\n"+
		// The hour of history is older than Skyline's MAX_RESOLUTION.
		"horizon:\n  filters:\n    max_age: 0s\n"+extraConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--data-dir", dataDir, "--config", cfgFile}, extraArgs...)
	k := startKaleEnv(t, env, args...)
	sendPlanted(t, k)
	var r correlateAnswer
	partners := func() bool { return correlatesPartners(t, k, &r) }
	waitUntil(t, k, "GET /api/correlate to return the 9 planted partners first", partners)

	// Save a collection of two partners; restart; a search resembling them
	// lists it.
	body := `{"name": "E2E incident", "description": "four metrics went up together", "metrics": ["planted.g00002.m00", "planted.g00002.m01"]}`
	resp, err := http.Post("http://"+k.http+"/api/collections", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /api/collections: %d", resp.StatusCode)
	}
	k.stop(t)
	k = startKaleEnv(t, env, args...)
	waitUntil(t, k, "the partners again after a restart, and the saved collection listed", func() bool {
		return partners() && len(r.Collections) == 1 && r.Collections[0].ID == "e2e-incident"
	})
	return k
}

// The split deployment: kale horizon writes to Redis, kale oculus imports
// from Redis into ZincSearch, kale webapp answers from both; three
// processes that share no memory.
func TestOculusSplitProcesses(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	z := testserver.StartZinc(t)
	cfgFile := filepath.Join(t.TempDir(), "kale.yaml")
	if err := os.WriteFile(cfgFile, []byte("oculus:\n  interval: 500ms\nhorizon:\n  filters:\n    max_age: 0s\n"+
		fmt.Sprintf("elasticsearch:\n  index: kale-split\n  username: %q\n  password: env:KALE_E2E_ES_PASSWORD\n", z.User)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"KALE_E2E_ES_PASSWORD=" + z.Password}
	common := []string{"--config", cfgFile, "--redis", r.URL, "--elasticsearch", z.URL}
	h := startKaleCommand(t, "horizon", env, append(common, "--data-dir", t.TempDir())...)
	o := startKaleCommand(t, "oculus", env, append(common, "--data-dir", t.TempDir())...)
	w := startKaleCommand(t, "webapp", env, append(common, "--data-dir", t.TempDir())...)
	sendPlanted(t, h)
	var ans correlateAnswer
	waitUntil(t, w, "kale webapp's /api/correlate to return the 9 planted partners first", func() bool {
		return correlatesPartners(t, w, &ans)
	})
	if !strings.Contains(o.logs(), "oculus generation committed") {
		t.Errorf("kale oculus did not log its imports:\n%s", o.logs())
	}
	// Each process alone serves its own /metrics and /healthz (given
	// --http-addr), and nothing else.
	for _, c := range []struct {
		p    *kaleProc
		want string
	}{{h, "kale_horizon_points_received_total"}, {o, "kale_oculus_imports_total"}} {
		for path, want := range map[string]string{"/metrics": c.want, "/healthz": "ok", "/": "404", "/api/anomalies": "404"} {
			resp, err := http.Get("http://" + c.p.http + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strconv.Itoa(resp.StatusCode) + " " + string(b); !strings.Contains(got, want) {
				t.Errorf("GET %s of %s: %.200s; want %q in it", path, c.p.cmd.Args[1], got, want)
			}
		}
	}
}

// kale horizon, analyzer and oculus alone serve no HTTP unless told:
// they often share a host and a config with kale webapp, which keeps :1500.
func TestComponentsLeaveHTTPToWebapp(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "kale.yaml")
	if err := os.WriteFile(cfgFile, []byte("http:\n  addr: \":1500\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &kaleProc{stderr: &testserver.SyncBuffer{}}
	p.cmd = exec.Command(binary(t), "analyzer", "--config", cfgFile, "--data-dir", t.TempDir())
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
	waitUntil(t, p, "kale analyzer to start", func() bool { return strings.Contains(p.logs(), `msg="kale started"`) })
	if !strings.Contains(p.logs(), "http=<nil>") {
		t.Errorf("kale analyzer with the default http.addr serves HTTP:\n%s", p.logs())
	}
}

// sendPlanted sends a shapegen corpus of 600 metrics with 4 planted groups
// to k's pickle listener.
func sendPlanted(t *testing.T, k *kaleProc) {
	t.Helper()
	spec := shapegen.DefaultSpec(600)
	spec.Groups = 4
	spec.End = time.Now().Unix()
	var samples []series.Sample
	err := spec.Each(func(i int, m shapegen.Metric) error {
		for j, v := range m.Values {
			samples = append(samples, series.Sample{Name: m.Name,
				Point: series.Point{Timestamp: spec.End - int64(len(m.Values)-1-j)*spec.Step, Value: v}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < len(samples); lo += 5000 {
		k.sendPickle(t, samples[lo:min(lo+5000, len(samples))])
	}
}

// correlateAnswer is the part of GET /api/correlate the tests read.
type correlateAnswer struct {
	Metric  string
	Results []struct {
		Metric   string
		Distance float64
	}
	Collections []struct{ ID string }
}

// correlatesPartners asks k which metrics moved with planted.g00002.m04
// and reports whether the 9 first are its planted partners.
func correlatesPartners(t *testing.T, k *kaleProc, r *correlateAnswer) bool {
	status := getJSON(t, "http://"+k.http+"/api/correlate?metric=planted.g00002.m04&limit=9", r)
	if status != 200 || len(r.Results) != 9 {
		return false
	}
	for _, m := range r.Results {
		if !strings.HasPrefix(m.Metric, "planted.g00002.") {
			return false
		}
	}
	return true
}

// getJSON GETs url into out and returns the status (0 when unreachable).
func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// kale bench oculus on a small corpus prints the RESULT keys of
// docs/interfaces.md, and its planted partners are found.
func TestBenchOculus(t *testing.T) {
	t.Parallel()
	code, out, errs := runKale("bench", "oculus", "--metrics", "4000", "--groups", "8", "--queries", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := parseResult(out)
	for _, k := range []string{"recall_at_20", "exact_overlap_at_20", "p50_ms", "p99_ms", "index_per_sec"} {
		if _, ok := got[k]; !ok {
			t.Errorf("RESULT lacks %s: %q", k, out)
		}
	}
	// A few thousand metrics hold few look-alikes: both must be near 1.
	if got["recall_at_20"] < 0.9 || got["exact_overlap_at_20"] < 0.9 || got["indexed"] != 4000 {
		t.Errorf("recall %v, overlap %v, indexed %v; want >= 0.9, >= 0.9, 4000", got["recall_at_20"], got["exact_overlap_at_20"], got["indexed"])
	}
	if code, _, _ := runKale("bench", "oculus", "--backend", "nope"); code == 0 {
		t.Error("--backend nope succeeded")
	}
}

// kale bench oculus --backend elasticsearch runs against ZincSearch under
// a throw-away prefix, and deletes it afterwards.
func TestBenchOculusElasticsearch(t *testing.T) {
	t.Parallel()
	z := testserver.StartZinc(t)
	code, out, errs := runKale("bench", "oculus", "--metrics", "2000", "--groups", "4", "--queries", "10",
		"--backend", "elasticsearch", "--elasticsearch", z.URL, "--es-user", z.User, "--es-password", z.Password)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := parseResult(out)
	if got["indexed"] != 2000 || got["recall_at_20"] < 0.9 || !strings.Contains(out, "backend=elasticsearch") {
		t.Errorf("RESULT %q: want backend=elasticsearch, 2000 indexed, recall_at_20 >= 0.9", out)
	}
	if left := z.IndexNames(t, "kale-bench-"); len(left) > 0 {
		t.Errorf("the bench left indexes %v", left)
	}
	if code, _, errs := runKale("bench", "oculus", "--metrics", "100", "--backend", "elasticsearch"); code == 0 || !strings.Contains(errs, "--elasticsearch") {
		t.Errorf("--backend elasticsearch without a URL: exit %d, %q; want a failure naming --elasticsearch", code, errs)
	}
}

// parseResult reads the numeric fields of a RESULT line.
func parseResult(out string) map[string]float64 {
	got := map[string]float64{}
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(out), "RESULT ")) {
		k, v, _ := strings.Cut(f, "=")
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			got[k] = x
		}
	}
	return got
}
