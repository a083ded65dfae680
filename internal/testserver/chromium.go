package testserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser binary and the Debian package that holds it.
const (
	chromiumBin = "chromium"
	chromiumPkg = "chromium"
)

// The window and the viewport of the browser that StartChromium starts, in
// CSS pixels. A test that changes the viewport (chromedp.EmulateViewport,
// e.g. 390x844 for a phone) goes back with
// chromedp.EmulateViewport(ChromiumWidth, ChromiumHeight).
const (
	ChromiumWidth  = 1400
	ChromiumHeight = 900
)

// Waits of the browser. A start takes about 0.5 s here; a stop less.
const (
	chromiumStartTimeout = 30 * time.Second
	chromiumStopTimeout  = 10 * time.Second
)

// Chromium is a headless Chromium started by StartChromium, driven through
// chromedp over its DevTools pipe.
type Chromium struct {
	// Ctx is the context of the browser's first tab: pass it to
	// chromedp.Do, chromedp.Run and chromedp.Call. Derive a context with a
	// timeout from it to bound one step.
	Ctx context.Context
	// UserDataDir is the browser's profile folder, a fresh temporary one.
	UserDataDir string

	out     *SyncBuffer // the browser's stdout and stderr
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// StartChromium starts headless Chromium (Debian's /usr/bin/chromium,
// found with LookPath) for t through chromedp: headless, no sandbox (tests
// run as root), no GPU, a fresh temporary profile, a 1400x900 window and
// viewport (device scale 1, not mobile). It opens the first tab, records
// what its pages write to the console (see Console; logged when t fails),
// and in t.Cleanup closes the browser and removes the profile. Without
// chromium it skips, or fails when KALE_REQUIRE_SERVERS=1, with the
// apt-get command that installs it.
//
// One browser serves one test: its tab is shared by the test's subtests,
// which run one after the other (chromedp.NewContext(c.Ctx) opens another
// tab of the same browser).
func StartChromium(t testing.TB) *Chromium {
	t.Helper()
	return startChromium(t, chromiumBin)
}

// startChromium is StartChromium with the binary's name.
func startChromium(t testing.TB, bin string) *Chromium {
	t.Helper()
	path := LookPath(t, bin, chromiumPkg)
	dir, err := os.MkdirTemp("", "kale-chromium-")
	if err != nil {
		t.Fatalf("cannot make the browser's profile folder: %v", err)
	}
	c := &Chromium{UserDataDir: dir, out: &SyncBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(ChromiumWidth, ChromiumHeight),
		chromedp.CombinedOutput(c.out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	c.Ctx = ctx
	t.Cleanup(func() {
		if t.Failed() {
			c.logConsole(t)
		}
		// A graceful close (Browser.close), bounded; then kill what is left
		// and wait for the process, so that the profile can be removed.
		stop, cancel := context.WithTimeout(ctx, chromiumStopTimeout)
		if err := chromedp.Cancel(stop); err != nil && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, context.DeadlineExceeded) {
			t.Logf("chromium did not stop cleanly: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc()
		if err := removeAllRetry(dir); err != nil {
			t.Errorf("cannot remove the browser's profile folder: %v", err)
		}
	})

	// Start the browser and open the tab now, so that a broken browser fails
	// here with its output, not in the test's first step. The first
	// action's context becomes the browser's, so it is ctx, not one with a
	// timeout: the timeout is here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("cannot start %s: %v\n%s", path, err, c.out.String())
		}
	case <-time.After(chromiumStartTimeout):
		cancelTab()
		t.Fatalf("%s did not start within %v:\n%s", path, chromiumStartTimeout, c.out.String())
	}
	// --window-size is the window's outer size: the headless window's frame
	// takes about 140 px of it. Emulate the viewport itself.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(ChromiumWidth, ChromiumHeight)); err != nil {
		t.Fatalf("cannot set the viewport to %dx%d: %v", ChromiumWidth, ChromiumHeight, err)
	}
	// The tab shows about:blank so far: no message is lost by subscribing
	// now, for the browser's life.
	all := chromedp.Console(ctx)
	go func() {
		for m, err := range all {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.console = append(c.console, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// Console returns what the pages of the tab wrote to the console so far:
// console API calls, uncaught exceptions (IsException) and the browser's
// log entries, such as a script that the Content-Security-Policy refused.
func (c *Chromium) Console() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), c.console...)
}

// logConsole logs the console messages and the tail of the browser's
// output, for a failed test.
func (c *Chromium) logConsole(t testing.TB) {
	t.Helper()
	for _, m := range c.Console() {
		t.Logf("browser console: %s (%s:%d)", m, m.URL, m.Line+1)
	}
	out := c.out.String()
	if len(out) > 4000 {
		out = "…" + out[len(out)-4000:]
	}
	if out != "" {
		t.Logf("browser output:\n%s", out)
	}
}

// OnNewDocument makes the tab run script in every document it loads from
// now on, before the page's own scripts (Page.addScriptToEvaluateOnNewDocument:
// the page's Content-Security-Policy does not apply to it). Tests use it to
// install hooks, such as a window.alert that records its calls.
func (c *Chromium) OnNewDocument(t testing.TB, script string) {
	t.Helper()
	_, err := chromedp.Run(c.Ctx, func(ctx context.Context, tg *chromedp.Target) (page.ScriptIdentifier, error) {
		r, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return r.Identifier, err
	})
	if err != nil {
		t.Fatalf("cannot add a script to every new document: %v", err)
	}
}

// artifactName keeps the file name of a screenshot to letters, digits, '.',
// '-' and '_'.
var artifactName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a PNG of the whole page of the tab ctx (at the
// viewport's width and the page's full height, beyond the viewport) as
// <name>.png in t.ArtifactDir(), logs its path and returns it. The folder
// is kept when go test runs with -artifacts (under -outputdir, see
// scripts/test.sh); otherwise it is removed when the test ends.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, fullPagePNG)
	if err != nil {
		t.Fatalf("cannot take the screenshot %s: %v", name, err)
	}
	path := filepath.Join(t.ArtifactDir(), artifactName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("cannot save the screenshot: %v", err)
	}
	t.Logf("screenshot %s", path)
	return path
}

// fullPagePNG captures the page's whole content area (Page.getLayoutMetrics'
// cssContentSize) as a PNG at scale 1, as Puppeteer's fullPage does.
// chromedp.FullScreenshot captures the viewport only.
func fullPagePNG(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, tg, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	if m.CSSContentSize == nil {
		return nil, errors.New("the browser reported no content size")
	}
	r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: new(true),
		FromSurface:           new(true),
		Clip: &page.Viewport{Width: math.Ceil(m.CSSContentSize.Width),
			Height: math.Ceil(m.CSSContentSize.Height), Scale: 1},
	})
	return r.Data, err
}

// removeAllRetry removes dir, trying again for up to 5 s: the browser's
// child processes can write in the profile for a moment after it stops.
func removeAllRetry(dir string) error {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%w (a browser process may still use it: look for it with ps aux | grep %s)", err, filepath.Base(dir))
}

// chromiumStepTimeout bounds Eval and the default wait of WaitJS.
const chromiumStepTimeout = 20 * time.Second

// Eval evaluates the JavaScript expression expr in the tab ctx
// (chromedp.Evaluate, with opts such as chromedp.EvalAwaitPromise) and
// returns its value decoded into T, failing t after 20 s or on an error.
// An evaluation that meets the tab between two documents (the old
// document's execution context is gone: "Cannot find context with
// specified id") is tried again.
func Eval[T any](t testing.TB, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, chromiumStepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
		if err == nil {
			return v
		}
		if !staleContext(err) || ctx.Err() != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitJS evaluates the JavaScript expression expr in the tab ctx every
// 20 ms until it is truthy (chromedp.Poll), failing t with what after
// timeout (0: 20 s). Like Eval, it survives the change of documents of a
// navigation.
func WaitJS(t testing.TB, ctx context.Context, what string, timeout time.Duration, expr string) {
	t.Helper()
	if timeout <= 0 {
		timeout = chromiumStepTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		pctx, cancel := context.WithTimeout(ctx, left+5*time.Second)
		_, err := chromedp.Run(pctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(max(left, time.Millisecond))))
		cancel()
		if err == nil {
			return
		}
		if !staleContext(err) || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// staleContext reports whether err is the browser's answer to a call into
// a document that a navigation has just replaced (DevTools error -32000
// with one of these messages).
// The protocol has no finer code than -32000 for these, so the message is
// all there is to tell them from other errors.
func staleContext(err error) bool {
	var e *cdproto.Error
	if !errors.As(err, &e) || e.Code != -32000 {
		return false
	}
	return strings.Contains(e.Message, "Cannot find context with specified id") ||
		strings.Contains(e.Message, "Execution context was destroyed") ||
		strings.Contains(e.Message, "Inspected target navigated or closed")
}
