package testserver

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("cannot listen on the port FreePort gave: %v", err)
	}
	defer l.Close()
	if portFree(p) {
		t.Errorf("portFree(%d) = true while a listener holds it", p)
	}
}

// fakeTB records how a helper ended the test. Skip and Fatal stop the
// goroutine as the real ones do.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runFake runs fn with a fakeTB in its own goroutine, so that Goexit ends
// only fn.
func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestLookPath(t *testing.T) {
	if p := LookPath(t, "sh", "dash"); !strings.HasSuffix(p, "/sh") {
		t.Errorf("LookPath(sh) = %q", p)
	}
	const want = "kale-no-such-binary not found: install with: apt-get install -y kale-pkg"
	f := func(require string, wantSkip, wantFail bool) {
		t.Helper()
		t.Setenv(RequireEnv, require)
		var got string
		fk := runFake(t, func(tb testing.TB) { got = LookPath(tb, "kale-no-such-binary", "kale-pkg") })
		if got != "" {
			t.Errorf("LookPath of a missing binary = %q", got)
		}
		if (fk.skipped != "") != wantSkip || (fk.failed != "") != wantFail {
			t.Fatalf("%s=%q: skipped %q, failed %q; want skip %v, fail %v", RequireEnv, require, fk.skipped, fk.failed, wantSkip, wantFail)
		}
		if msg := fk.skipped + fk.failed; !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	f("", true, false)
	f("0", true, false)
	f("1", false, true)
}
