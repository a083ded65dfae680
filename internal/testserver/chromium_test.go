package testserver

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser opens a page served on loopback at 1400x900, runs its script
// after the hooks of OnNewDocument, records its console, and saves a
// screenshot of the whole page, taller than the window; Eval and WaitJS
// work across a navigation; the profile is gone after the test.
func TestStartChromium(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>hop</title><script>setTimeout(() => location.replace("/landed"), 30)</script>`))
	})
	mux.HandleFunc("/landed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>landed</title>`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>t</title>
<body style="margin:0"><div id="tall" style="height:2000px;background:#1f5fa8">tall</div>
<script>
document.title = "hook " + window.kaleHook;
console.log("hello from the page");
</script></body>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var profile string
	t.Run("browser", func(t *testing.T) {
		c := StartChromium(t)
		profile = c.UserDataDir
		if st, err := os.Stat(profile); err != nil || !st.IsDir() {
			t.Fatalf("the profile folder %s: %v", profile, err)
		}
		c.OnNewDocument(t, `window.kaleHook = 42;`)
		ctx, cancel := context.WithTimeout(c.Ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(ctx, chromedp.Title())
		if err != nil || title != "hook 42" {
			t.Errorf("title %q (%v): want %q, set by the page from the hook", title, err, "hook 42")
		}
		if size := Eval[[2]int](t, ctx, `[innerWidth, innerHeight]`); size != [2]int{ChromiumWidth, ChromiumHeight} {
			t.Errorf("viewport %v, want %dx%d", size, ChromiumWidth, ChromiumHeight)
		}
		headless, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.userAgent.includes("Headless")`))
		if err != nil || !headless {
			t.Errorf("the browser is not headless (%v)", err)
		}

		path := Screenshot(t, ctx, "tall page")
		if !strings.HasSuffix(path, "/tall_page.png") || !strings.HasPrefix(path, t.ArtifactDir()) {
			t.Errorf("screenshot saved as %s, want tall_page.png in %s", path, t.ArtifactDir())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the screenshot is not a PNG: %v", err)
		}
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != ChromiumWidth || h != 2000 {
			t.Errorf("screenshot %dx%d, want the whole page, %dx2000", w, h, ChromiumWidth)
		}
		// The tall div's colour, far below the window.
		if r, g, b, _ := img.At(10, 1900).RGBA(); r>>8 != 0x1f || g>>8 != 0x5f || b>>8 != 0xa8 {
			t.Errorf("pixel (10, 1900) is #%02x%02x%02x, want the page's #1f5fa8", r>>8, g>>8, b>>8)
		}

		// WaitJS keeps polling across the page's own navigation, which
		// destroys the document it started in.
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/hop")); err != nil {
			t.Fatal(err)
		}
		WaitJS(t, ctx, "the second document", 5*time.Second, `document.title === "landed"`)
		if got := Eval[string](t, ctx, `location.pathname`); got != "/landed" {
			t.Errorf("after the hop the tab shows %s", got)
		}

		deadline := time.Now().Add(5 * time.Second)
		for !hasMessage(c.Console(), "hello from the page") {
			if time.Now().After(deadline) {
				t.Fatalf("the page's console.log is not in Console(): %v", c.Console())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("the profile folder %s is still there after the test (%v)", profile, err)
	}
}

func hasMessage(ms []chromedp.ConsoleMessage, text string) bool {
	for _, m := range ms {
		if m.Type == chromedp.ConsoleLog && m.Text == text {
			return true
		}
	}
	return false
}

// Without the browser binary the test skips, or fails when servers are
// required, saying how to install it.
func TestStartChromiumMissing(t *testing.T) {
	const want = "kale-no-such-chromium not found: install with: apt-get install -y chromium"
	for _, c := range []struct {
		require            string
		wantSkip, wantFail bool
	}{{"", true, false}, {"1", false, true}} {
		t.Setenv(RequireEnv, c.require)
		var got *Chromium
		fk := runFake(t, func(tb testing.TB) { got = startChromium(tb, "kale-no-such-chromium") })
		if got != nil {
			t.Errorf("startChromium without a binary returned %+v", got)
		}
		if (fk.skipped != "") != c.wantSkip || (fk.failed != "") != c.wantFail {
			t.Errorf("%s=%q: skipped %q, failed %q; want skip %v, fail %v", RequireEnv, c.require, fk.skipped, fk.failed, c.wantSkip, c.wantFail)
		}
		if msg := fk.skipped + fk.failed; !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
}
