package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/testserver"
)

func runKale(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCommands(t *testing.T) {
	t.Parallel()
	code, defaults, _ := runKale("config", "defaults")
	if code != 0 || !strings.Contains(defaults, "full_duration: 0s") {
		t.Fatalf("config defaults: exit %d\n%s", code, defaults)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(defaults), 0o644)
	if code, out, errs := runKale("config", "check", "--config", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("config check of the defaults: exit %d %q %q", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("store:\n  backend: mongo\nhorizon:\n  queue:\n    batch_size: 0\n"), 0o644)
	code, _, errs := runKale("config", "check", "--config", bad)
	if code != 2 {
		t.Fatalf("config check of a bad file: exit %d, want 2", code)
	}
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 2 {
		t.Fatalf("want one line per problem (2), got:\n%s", errs)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("horizon:\n  pikle: {}\n"), 0o644)
	if code, _, errs := runKale("config", "check", "--config", unknown); code != 2 || !strings.Contains(errs, "pikle") {
		t.Fatalf("unknown key: exit %d %q", code, errs)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	if code, _, _ := runKale("frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// kale oculus alone cannot serve the embedded index: it says what to run.
func TestOculusAloneNeedsElasticsearch(t *testing.T) {
	t.Parallel()
	code, _, errs := runKale("oculus", "--data-dir", t.TempDir(), "--http-addr", "")
	if code != 1 || !strings.Contains(errs, "--elasticsearch") || !strings.Contains(errs, "kale run") {
		t.Errorf("kale oculus on the embedded index: exit %d %q; want exit 1 naming kale run and --elasticsearch", code, errs)
	}
}

// A taken port is a clear one-line error, not a stack trace.
func TestPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := runKale("horizon", "--data-dir", t.TempDir(), "--pickle-addr", ln.Addr().String(),
		"--msgpack-addr", "", "--plaintext-addr", "")
	if code == 0 || !strings.Contains(errs, "--pickle-addr") || strings.Contains(errs, "goroutine") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

var (
	buildOnce sync.Once
	kaleBin   string
	buildErr  error
)

// binary builds the kale command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kale-bin-")
		if err != nil {
			buildErr = err
			return
		}
		kaleBin = filepath.Join(dir, "kale")
		out, err := exec.Command("go", "build", "-o", kaleBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return kaleBin
}

type kaleProc struct {
	cmd    *exec.Cmd
	pickle string
	http   string
	stderr *testserver.SyncBuffer
}

// startKale starts `kale run` on free loopback ports and waits for /healthz.
func startKale(t *testing.T, extra ...string) *kaleProc {
	t.Helper()
	return startKaleEnv(t, nil, extra...)
}

// startKaleEnv is startKale with env ("NAME=value") added to the test's
// environment for the kale process.
func startKaleEnv(t *testing.T, env []string, extra ...string) *kaleProc {
	t.Helper()
	return startKaleCommand(t, "run", env, extra...)
}

// startKaleCommand starts kale COMMAND (run, horizon, webapp or oculus)
// with env added to its environment: on free ports for the listeners the
// command has (pickle for run and horizon, HTTP for all).
func startKaleCommand(t *testing.T, command string, env []string, extra ...string) *kaleProc {
	t.Helper()
	// A port found free may be taken by a parallel test before kale binds
	// it: kale then exits saying so, and we try again on other ports.
	for attempt := 1; ; attempt++ {
		p, taken := tryStartKale(t, command, env, extra)
		if !taken {
			return p
		}
		if attempt == 5 {
			t.Fatalf("kale could not bind free ports in 5 attempts:\n%s", p.logs())
		}
	}
}

// tryStartKale starts kale run and waits until it has started (its log
// says so: every listener is bound, so /healthz is answered by this
// process and not by one that took the port) and /healthz answers. taken
// reports that a port was taken meanwhile (the process has exited).
func tryStartKale(t *testing.T, command string, env, extra []string) (p *kaleProc, taken bool) {
	t.Helper()
	p = &kaleProc{stderr: &testserver.SyncBuffer{}}
	args := []string{command}
	if command == "run" || command == "horizon" {
		p.pickle = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		args = append(args, "--pickle-addr", p.pickle, "--msgpack-addr", "", "--plaintext-addr", "")
	}
	// Every command gets an HTTP address: run and webapp serve the page
	// there, horizon, analyzer and oculus alone /metrics and /healthz.
	p.http = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	args = append(args, "--http-addr", p.http)
	args = append(args, extra...)
	p.cmd = exec.Command(binary(t), args...)
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		logs := p.logs()
		if strings.Contains(logs, "address already in use") {
			p.cmd.Wait()
			return p, true
		}
		if strings.Contains(logs, `msg="kale started"`) {
			if p.http == "" {
				return p, false
			}
			resp, err := http.Get("http://" + p.http + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return p, false
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kale did not become healthy:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *kaleProc) logs() string { return p.stderr.String() }

// series asks the API for a metric's points; ok is false on 404.
func (p *kaleProc) series(t *testing.T, name string) ([]series.Point, bool) {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/api/series?metric=" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 404 {
		return nil, false
	}
	var body struct{ Points [][2]float64 }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := make([]series.Point, len(body.Points))
	for i, pt := range body.Points {
		out[i] = series.Point{Timestamp: int64(pt[0]), Value: pt[1]}
	}
	return out, true
}

// Everything acknowledged (visible through the API) more than one sync
// interval before a kill -9 is there after a restart, exact.
func TestDurabilityAfterKill9(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	k := startKale(t, "--data-dir", dataDir)
	conn, err := net.Dial("tcp", k.pickle)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now().Unix()
	const metrics = 50
	var sent []series.Sample
	send := func(round int) {
		var b []series.Sample
		for m := range metrics {
			b = append(b, series.Sample{Name: fmt.Sprintf("durable.m%02d", m),
				Point: series.Point{Timestamp: now - 900 + int64(round), Value: float64(round)*1.0001 + float64(m)}})
		}
		if _, err := conn.Write(graphite.AppendPickleFrame(nil, b)); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, b...)
	}
	for r := range 100 {
		send(r)
	}
	// Acknowledged: the API shows every point.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pts, _ := k.series(t, fmt.Sprintf("durable.m%02d", metrics-1))
		if len(pts) == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("points not visible:\n%s", k.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	acked := len(sent)
	time.Sleep(1500 * time.Millisecond) // > sync_interval (1 s)
	for r := 100; r < 150; r++ {        // in flight at the kill: may or may not survive
		send(r)
	}
	if err := k.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	k.cmd.Wait()

	k2 := startKale(t, "--data-dir", dataDir)
	want := map[string][]series.Point{}
	for _, s := range sent[:acked] {
		want[s.Name] = append(want[s.Name], s.Point)
	}
	for name, pts := range want {
		got, ok := k2.series(t, name)
		if !ok || len(got) < len(pts) {
			t.Fatalf("%s after kill -9: %d points, want at least %d\n%s", name, len(got), len(pts), k2.logs())
		}
		for i, p := range pts {
			if got[i] != p {
				t.Fatalf("%s point %d after kill -9: %+v, want %+v", name, i, got[i], p)
			}
		}
	}
	k2.cmd.Process.Signal(syscall.SIGTERM)
	if err := k2.cmd.Wait(); err != nil {
		t.Fatalf("kale did not stop cleanly on SIGTERM: %v\n%s", err, k2.logs())
	}
}

// kale run --redis writes Skyline's key format and serves it back.
func TestRunWithRedis(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	k := startKale(t, "--data-dir", t.TempDir(), "--redis", r.URL)
	conn, err := net.Dial("tcp", k.pickle)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now().Unix()
	in := []series.Sample{
		{Name: "redis.e2e.a", Point: series.Point{Timestamp: now - 60, Value: 1.5}},
		{Name: "redis.e2e.a", Point: series.Point{Timestamp: now, Value: 2.5}},
	}
	conn.Write(graphite.AppendPickleFrame(nil, in))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pts, _ := k.series(t, "redis.e2e.a"); len(pts) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("points not visible:\n%s", k.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	raw, err := c.Get(context.Background(), "metrics.redis.e2e.a").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := series.AppendPoint(series.AppendPoint(nil, in[0].Point), in[1].Point)
	if !bytes.Equal(raw, want) {
		t.Fatalf("Redis value % x, want Skyline's msgpack % x", raw, want)
	}
	if ok, _ := c.SIsMember(context.Background(), "metrics.unique_metrics", "metrics.redis.e2e.a").Result(); !ok {
		t.Fatal("metrics.unique_metrics lacks the metric")
	}
}

// An unreachable Kafka broker or Redis is a clear startup error.
func TestUnreachableServers(t *testing.T) {
	t.Parallel()
	dead := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)) // nothing listens there
	base := []string{"--data-dir", t.TempDir(), "--pickle-addr", "", "--msgpack-addr", "", "--plaintext-addr", "", "--http-addr", ""}
	code, _, errs := runKale(append([]string{"horizon", "--kafka", dead, "--kafka-topic", "t"}, base...)...)
	if code == 0 || !strings.Contains(errs, "cannot reach any Kafka broker") || !strings.Contains(errs, "--kafka") {
		t.Errorf("kafka: exit %d, %q", code, errs)
	}
	code, _, errs = runKale(append([]string{"horizon", "--redis", "redis://" + dead + "/0"}, base...)...)
	if code == 0 || !strings.Contains(errs, "cannot reach redis") || !strings.Contains(errs, "--redis") {
		t.Errorf("redis: exit %d, %q", code, errs)
	}
}

// kale bench ingest ends with the RESULT keys of docs/interfaces.md, every
// point accounted for, on both stores.
func TestBenchIngest(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	for _, args := range [][]string{
		{"bench", "ingest", "--points", "20000", "--metrics", "1000", "--data-dir", t.TempDir()},
		{"bench", "ingest", "--store", "redis", "--redis", r.URL, "--points", "20000", "--metrics", "1000"},
	} {
		code, out, errs := runKale(args...)
		if code != 0 {
			t.Fatalf("kale %v: exit %d\n%s", args, code, errs)
		}
		if !strings.HasPrefix(out, "RESULT ") || strings.Count(out, "\n") != 1 {
			t.Fatalf("want one RESULT line on stdout, got %q", out)
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(out)[1:] {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		for _, k := range []string{"points_per_sec", "points_sent", "points_stored", "bytes_per_point"} {
			if kv[k] == "" {
				t.Errorf("kale %v: RESULT lacks %s: %q", args, k, out)
			}
		}
		if kv["points_sent"] != "20000" || kv["points_stored"] != "20000" {
			t.Errorf("kale %v: sent %s, stored %s", args, kv["points_sent"], kv["points_stored"])
		}
	}
}

// kale bench gen + kale bench analyze on the hour corpus: the RESULT keys of
// docs/interfaces.md, and (with ../shared) verdicts byte-identical to Etsy
// Skyline's recorded ones.
func TestBenchGenAnalyze(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "hour.bin")
	code, out, errs := runKale("bench", "gen", "--metrics", "1000", "--points", "60", "--step", "60", "--seed", "42", "--out", data)
	if code != 0 || !strings.Contains(out, "sha256_values=") {
		t.Fatalf("bench gen: exit %d %q %q", code, out, errs)
	}
	for _, profile := range []string{"classic", "default"} {
		verdicts := filepath.Join(dir, profile+".jsonl")
		code, out, errs := runKale("bench", "analyze", "--dataset", data, "--profile", profile, "--verdicts", verdicts)
		if code != 0 {
			t.Fatalf("bench analyze %s: exit %d %q", profile, code, errs)
		}
		for _, k := range []string{"ms_per_metric_core=", "metrics=1000", "anomalous="} {
			if !strings.Contains(out, k) {
				t.Errorf("%s: RESULT lacks %s: %q", profile, k, out)
			}
		}
		if profile != "classic" {
			continue
		}
		want, err := os.ReadFile("../../../shared/parity/ds_m1000_n60_s60_seed42.skyline.jsonl")
		if err != nil {
			t.Logf("no shared parity verdicts to compare with: %v", err)
			continue
		}
		got, _ := os.ReadFile(verdicts)
		if !bytes.Equal(got, want) {
			t.Errorf("classic verdicts differ from Etsy Skyline's recorded ones")
		}
		if !strings.Contains(out, "skyline_metric_agreement=1.0000") {
			t.Errorf("RESULT lacks full agreement: %q", out)
		}
	}
}

// kale bench analyze --metrics fills a store and times analyzer cycles over
// it: every metric is listed and judged, on both backends.
func TestBenchAnalyzeStore(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			if backend == "redis" {
				testserver.LookPath(t, "redis-server", "redis-server")
			}
			code, out, errs := runKale("bench", "analyze", "--metrics", "1500", "--points", "200", "--store", backend,
				"--profile", "default", "--cycles", "1")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, k := range []string{"cycle_seconds=", "metrics=1500 ", "ms_per_metric_core=", "analysed=1500 ", "store=" + backend} {
				if !strings.Contains(out, k) {
					t.Errorf("RESULT lacks %s: %q", k, out)
				}
			}
		})
	}
	if code, _, _ := runKale("bench", "analyze", "--metrics", "10", "--dataset", "x.bin"); code != 2 {
		t.Errorf("--metrics with --dataset: exit %d, want 2", code)
	}
}

// kale bench nab replays the whole NAB corpus and prints the six scores of
// docs/interfaces.md. The classic profile must land near Etsy Skyline's
// published 35.7 (standard); the default profile, at its own settings,
// must keep the Detection core issue's targets: standard >= 60 at the
// optimised threshold and >= 55 at Kale's fixed one.
func TestBenchNAB(t *testing.T) {
	t.Parallel()
	if _, err := sharedPath("nab", "data"); err != nil {
		t.Skipf("no NAB corpus: %v", err)
	}
	run := func(t *testing.T, args ...string) map[string]float64 {
		code, stdout, errs := runKale(append([]string{"bench", "nab"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		kv := map[string]float64{}
		for _, f := range strings.Fields(stdout)[1:] {
			k, v, _ := strings.Cut(f, "=")
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				kv[k] = x
			}
		}
		for _, k := range []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate", "standard_fixed",
			"reward_low_FP_rate_fixed", "reward_low_FN_rate_fixed", "full_duration", "suppress"} {
			if _, ok := kv[k]; !ok {
				t.Errorf("RESULT lacks %s: %q", k, stdout)
			}
		}
		return kv
	}
	t.Run("classic", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		kv := run(t, "--profile", "classic", "--out", out)
		if s := kv["standard"]; s < 30 || s > 42 {
			t.Errorf("classic standard score %.2f, want near Etsy Skyline's 35.7", s)
		}
		if kv["full_duration"] != 86400 || kv["suppress"] != 3600 {
			t.Errorf("classic ran with full_duration %v s, suppress %v s; want Skyline's 86400 and 3600", kv["full_duration"], kv["suppress"])
		}
		files, _ := filepath.Glob(filepath.Join(out, "*", "*.csv"))
		if len(files) != 58 {
			t.Errorf("%d result files written, want 58", len(files))
		}
	})
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		kv := run(t) // the default profile at its own settings
		if kv["standard"] < 60 || kv["standard_fixed"] < 55 {
			t.Errorf("default profile: standard %.2f optimised, %.2f fixed; the targets are >= 60 and >= 55",
				kv["standard"], kv["standard_fixed"])
		}
		if kv["full_duration"] != 7*86400 || kv["suppress"] != 12*3600 {
			t.Errorf("default ran with full_duration %v s, suppress %v s; want its settings, 604800 and 43200", kv["full_duration"], kv["suppress"])
		}
	})
}

// kale replay writes one row per input row, for UNIX-second and NAB-style
// timestamps, and alerts on an obvious spike.
func TestReplayCommand(t *testing.T) {
	t.Parallel()
	in, out := t.TempDir(), t.TempDir()
	var unix, nabStyle strings.Builder
	unix.WriteString("timestamp,value\n")
	nabStyle.WriteString("timestamp,value\n")
	for i := range 600 {
		v := 10 + float64(i%7)
		if i == 590 {
			v = 500
		}
		ts := int64(1_700_000_000 + 60*i)
		fmt.Fprintf(&unix, "%d,%g\n", ts, v)
		fmt.Fprintf(&nabStyle, "%s,%g\n", time.Unix(ts, 0).UTC().Format("2006-01-02 15:04:05"), v)
	}
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	os.WriteFile(filepath.Join(in, "unix.csv"), []byte(unix.String()), 0o644)
	os.WriteFile(filepath.Join(in, "sub", "nab.csv"), []byte(nabStyle.String()), 0o644)
	code, stdout, errs := runKale("replay", "--in", in, "--out", out, "--profile", "classic")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(stdout, "replayed 2 files, 1200 rows") {
		t.Errorf("stdout %q", stdout)
	}
	for _, name := range []string{"unix.csv", "sub/nab.csv"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 601 || lines[0] != "timestamp,value,anomaly_score,alert,exception" {
			t.Fatalf("%s: %d lines, header %q", name, len(lines), lines[0])
		}
		if f := strings.Split(lines[591], ","); f[1] != "500" || f[3] != "true" {
			t.Errorf("%s: the spike row is %q, want an alert", name, lines[591])
		}
	}
	// The default profile runs at its own settings unless told otherwise.
	if code, stdout, errs := runKale("replay", "--in", in, "--out", t.TempDir()); code != 0 ||
		!strings.Contains(stdout, "profile default, history 168h0m0s, alert expiration 12h0m0s") {
		t.Errorf("default settings: exit %d %q %q", code, stdout, errs)
	}
	if code, stdout, errs := runKale("replay", "--in", in, "--out", t.TempDir(), "--full-duration", "36h", "--suppress", "0s"); code != 0 ||
		!strings.Contains(stdout, "history 36h0m0s, alert expiration 0s") {
		t.Errorf("set settings: exit %d %q %q", code, stdout, errs)
	}
	badDir := t.TempDir()
	bad := filepath.Join(badDir, "bad.csv")
	os.WriteFile(bad, []byte("time,val\n1,2\n"), 0o644)
	if code, _, errs := runKale("replay", "--in", bad, "--out", out); code != 1 || !strings.Contains(errs, "timestamp and value") {
		t.Errorf("bad header: exit %d %q", code, errs)
	}
	for _, args := range [][]string{
		{"replay", "--in", in, "--out", filepath.Join(in, "results")},  // would read its own output next time
		{"replay", "--in", filepath.Join(in, "unix.csv"), "--out", in}, // would overwrite the input
		{"replay", "--in", in, "--out", out, "--full-duration", "0s"},
		{"replay", "--in", in, "--out", out, "--suppress", "-1h"},
		{"replay", "--in", in, "--out", out, "--suppress", "soon"},
		{"replay", "--in", in, "--out", out, "--profile", "fancy"},
	} {
		if code, _, errs := runKale(args...); code != 2 {
			t.Errorf("kale %v: exit %d %q, want 2", args, code, errs)
		}
	}
}
