// Package testserver starts real servers (redis-server, Redis Cluster, ...)
// for tests, on free loopback ports, as child processes of the test that
// are stopped in t.Cleanup.
//
// A missing server binary skips the test with the command that installs
// it, or fails it when KALE_REQUIRE_SERVERS=1 (set by `make test` and CI),
// so that `go test ./...` works anywhere and CI never skips silently.
package testserver

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a missing server binary
// from a skip into a failure when it is "1".
const RequireEnv = "KALE_REQUIRE_SERVERS"

// RequireServers reports whether KALE_REQUIRE_SERVERS=1: tests that need a
// server binary must then fail, not skip, when it is missing.
func RequireServers() bool {
	return os.Getenv(RequireEnv) == "1"
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago: it
// listens on 127.0.0.1:0, reads the port back and closes the listener.
// Another process may take the port before the caller binds it, so
// starters retry on "address in use".
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	return p
}

// freePort is FreePort without a testing.TB.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether 127.0.0.1:port can be listened on now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// LookPath returns the path of executable bin, searched in PATH and then in
// /usr/bin, /usr/sbin, /usr/local/bin and /usr/local/sbin (a test's PATH
// may lack the Debian folders). When bin is missing it calls t.Fatal if
// RequireServers(), else t.Skip, with the message
// "<bin> not found: install with: apt-get install -y <installHint>";
// installHint is the Debian package name (or names, space-separated).
func LookPath(t testing.TB, bin, installHint string) string {
	t.Helper()
	p, err := lookPath(bin)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: install with: apt-get install -y %s", bin, installHint)
	if RequireServers() {
		t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// lookPath is LookPath without a testing.TB.
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	if !strings.ContainsRune(bin, filepath.Separator) {
		for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"} {
			p := filepath.Join(dir, bin)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("cannot find %s in PATH (%s) or the usual folders", bin, os.Getenv("PATH"))
}

// StartChild runs the test binary's test name again as a child process,
// with env ("NAME=value") added to its environment and its stderr on
// ours, and returns it with its stdout. The crash tests use it: the child
// works until the test kills it (SIGKILL), then the test reopens what the
// child wrote. A child still running when the test ends is killed.
func StartChild(t testing.TB, name string, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // not waited for by the test
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}
