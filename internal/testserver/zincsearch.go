package testserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ZincSearch, the Elasticsearch-API server the tests of oculus/elastic run
// against (real Elasticsearch cannot be installed here; see
// docs/servers.md). It is built from its module source by
// scripts/zincsearch.sh and cached outside the repository.
const (
	// ZincVersion is the ZincSearch release the tests use.
	ZincVersion = "v0.4.10"
	// ZincBinEnv names an environment variable that, when set, is the path
	// of the zincsearch binary to use instead of the cached build.
	ZincBinEnv = "KALE_ZINC_BIN"
)

// Waits of the ZincSearch server.
const (
	zincReadyTimeout = 30 * time.Second // it answers in about 0.1 s
	zincStopTimeout  = 15 * time.Second // a graceful stop closes every index
)

// Zinc is a ZincSearch server started by StartZinc, on 127.0.0.1 with a
// fresh data folder, telemetry off.
type Zinc struct {
	// URL is the Elasticsearch-compatible API: "http://127.0.0.1:PORT/es".
	URL string
	// BaseURL is the server's root, "http://127.0.0.1:PORT"; Zinc's own API
	// is under BaseURL/api.
	BaseURL  string
	Port     int
	User     string
	Password string
	// DataDir holds the indexes and metadata; it survives Restart.
	DataDir string

	bin  string
	mu   sync.Mutex
	proc *zincProc
}

// zincBuild remembers, per test binary, the outcome of finding or building
// the binary, so a failed build is not retried by every test.
var zincBuild struct {
	once sync.Once
	bin  string
	err  error
}

// ZincBinary returns the path of the zincsearch binary: $KALE_ZINC_BIN when
// set, else the cached build at
// $HOME/.cache/kale-test/zincsearch-v0.4.10/zincsearch, which it builds
// with scripts/zincsearch.sh when missing (about 100 s the first time on a
// cold Go cache; concurrent builds wait for each other).
func ZincBinary() (string, error) {
	zincBuild.once.Do(func() { zincBuild.bin, zincBuild.err = findOrBuildZinc() })
	return zincBuild.bin, zincBuild.err
}

func findOrBuildZinc() (string, error) {
	if p := os.Getenv(ZincBinEnv); p != "" {
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s is not an executable file: unset it to use the cached build, or point it at a zincsearch %s binary", ZincBinEnv, p, ZincVersion)
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home folder for the zincsearch cache: %w (set %s to a zincsearch binary)", err, ZincBinEnv)
	}
	dir := filepath.Join(home, ".cache", "kale-test", "zincsearch-"+ZincVersion)
	bin := filepath.Join(dir, "zincsearch")
	if st, err := os.Stat(bin); err == nil && st.Mode()&0o111 != 0 {
		return bin, nil
	}
	script, err := zincScript()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", script, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building zincsearch %s with %s failed: %v\n%s\nRun %s by hand to see why (it needs Go and the Go module proxy), or set %s to a zincsearch binary",
			ZincVersion, script, err, strings.TrimSpace(string(out)), script, ZincBinEnv)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s succeeded but %s is missing: %v", script, bin, err)
	}
	return bin, nil
}

// zincScript finds scripts/zincsearch.sh from this source file's location,
// or from the module root `go env GOMOD` reports.
func zincScript() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "zincsearch.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			p := filepath.Join(filepath.Dir(mod), "scripts", "zincsearch.sh")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("cannot find scripts/zincsearch.sh (tried %s): run the tests from Kale's repository, or set %s to a zincsearch binary",
		strings.Join(tried, ", "), ZincBinEnv)
}

// StartZinc starts ZincSearch on a free loopback port with a fresh data
// folder, waits until it answers an authenticated request, and stops it in
// t.Cleanup. When the binary cannot be found or built it fails the test if
// KALE_REQUIRE_SERVERS=1, else skips it, saying what to do.
func StartZinc(t testing.TB) *Zinc {
	t.Helper()
	bin, err := ZincBinary()
	if err != nil {
		if RequireServers() {
			t.Fatalf("%v (%s=1 makes this a failure)", err, RequireEnv)
		}
		t.Skip(err)
	}
	z := &Zinc{User: "admin", Password: "Kale#" + rand.Text(), DataDir: t.TempDir(), bin: bin}
	t.Cleanup(z.stop)
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("cannot find a free port: %v", err)
		}
		if err := z.start(port); err != nil {
			lastErr = err
			continue
		}
		return z
	}
	t.Fatalf("cannot start zincsearch after %d attempts: %v", startAttempts, lastErr)
	return nil
}

// Restart stops the server gracefully (SIGTERM, so it closes its indexes
// and metadata) and starts it again on the same port and data folder, as
// an operator restarting it would.
func (z *Zinc) Restart(t testing.TB) {
	t.Helper()
	z.mu.Lock()
	p := z.proc
	z.mu.Unlock()
	if p != nil {
		p.terminate()
	}
	deadline := time.Now().Add(zincReadyTimeout)
	for {
		err := z.start(z.Port)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot restart zincsearch on port %d: %v", z.Port, err)
		}
		time.Sleep(50 * time.Millisecond) // the old socket may linger
	}
}

// Log returns what the current process wrote so far, for failure messages.
func (z *Zinc) Log() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.proc == nil {
		return ""
	}
	return z.proc.out.String()
}

// IndexNames lists the indexes whose names start with prefix, through
// Zinc's own API (GET /api/index).
func (z *Zinc) IndexNames(t testing.TB, prefix string) []string {
	t.Helper()
	names, err := z.indexNames(prefix)
	if err != nil {
		t.Fatalf("cannot list zincsearch indexes: %v", err)
	}
	return names
}

func (z *Zinc) indexNames(prefix string) ([]string, error) {
	q := url.Values{"name": {prefix}} // no page_size: every match
	status, body, err := z.api(http.MethodGet, "/api/index?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /api/index: %d %s", status, body)
	}
	var resp struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("GET /api/index: %w: %s", err, body)
	}
	var names []string
	for _, ix := range resp.List {
		if strings.HasPrefix(ix.Name, prefix) {
			names = append(names, ix.Name)
		}
	}
	return names, nil
}

// DeleteIndexes deletes every index whose name starts with prefix, with
// Zinc's own DELETE /api/index/<name> (Zinc answers 404 to the
// Elasticsearch DELETE /<index>). Aliases are left as they are.
func (z *Zinc) DeleteIndexes(t testing.TB, prefix string) {
	t.Helper()
	if prefix == "" {
		t.Fatal("DeleteIndexes: refusing an empty prefix (it would delete every index)")
	}
	names, err := z.indexNames(prefix)
	if err != nil {
		t.Errorf("cannot list zincsearch indexes to delete: %v", err)
		return
	}
	for _, n := range names {
		status, body, err := z.api(http.MethodDelete, "/api/index/"+url.PathEscape(n))
		if err != nil || status != http.StatusOK {
			t.Errorf("cannot delete zincsearch index %s: %d %s %v", n, status, body, err)
		}
	}
}

// api sends an authenticated request to Zinc's own API.
func (z *Zinc) api(method, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, z.BaseURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(z.User, z.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, body, err
}

// start runs the binary on port and waits until it answers.
func (z *Zinc) start(port int) error {
	cmd := exec.Command(z.bin)
	cmd.Dir = z.DataDir // it reads a .env from its working folder
	env := []string{}
	for _, kv := range os.Environ() { // no ZINC_* setting of the caller leaks in
		if !strings.HasPrefix(kv, "ZINC_") && !strings.HasPrefix(kv, "GIN_MODE=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"ZINC_FIRST_ADMIN_USER="+z.User,
		"ZINC_FIRST_ADMIN_PASSWORD="+z.Password,
		"ZINC_DATA_PATH="+filepath.Join(z.DataDir, "data"),
		"ZINC_SERVER_ADDRESS=127.0.0.1",
		"ZINC_SERVER_PORT="+strconv.Itoa(port),
		"ZINC_WAL_SYNC_INTERVAL=50ms",
		"ZINC_TELEMETRY=false",
		"ZINC_SENTRY=false",
		"ZINC_PROFILER=false",
		"ZINC_SWAGGER_ENABLE=false",
		"GIN_MODE=release",
	)
	p := &zincProc{cmd: cmd, out: &SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w", z.bin, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	z.mu.Lock()
	z.proc, z.Port, z.BaseURL, z.URL = p, port, base, base+"/es"
	z.mu.Unlock()

	deadline := time.Now().Add(zincReadyTimeout)
	for {
		status, body, err := z.api(http.MethodGet, "/api/index_name")
		if err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("zincsearch on port %d exited: %s", port, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("zincsearch on port %d did not answer within %v (last: %d %s %v): %s",
				port, zincReadyTimeout, status, body, err, p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills the current process, if any.
func (z *Zinc) stop() {
	z.mu.Lock()
	p := z.proc
	z.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// zincProc is one run of the zincsearch binary.
type zincProc struct {
	cmd    *exec.Cmd
	out    *SyncBuffer
	exited chan struct{}
}

// kill stops the process at once and waits for it. It is idempotent.
func (p *zincProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// terminate asks the process to stop (SIGTERM) and waits for it, killing it
// after zincStopTimeout.
func (p *zincProc) terminate() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(zincStopTimeout):
		p.kill()
	}
}

// ES sends an authenticated request to z's Elasticsearch API (path is
// relative to URL, e.g. "/kale-state/_search") and returns the status
// and body; it fails the test when z cannot be reached.
func (z *Zinc) ES(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, z.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(z.User, z.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
