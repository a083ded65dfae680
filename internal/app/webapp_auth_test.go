package app

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/go-kale/kale/internal/config"
)

// An http.auth secret read from an unset environment variable stops Kale
// at Open, naming the variable; once it is set, the real server asks for
// the credentials on every route but /healthz.
func TestWebappAuthStartup(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.Auth.Username = "ops"
	cfg.HTTP.Auth.Password = "env:KALE_TEST_APP_WEB_PASSWORD"
	t.Setenv("KALE_TEST_APP_WEB_PASSWORD", "")
	if a, err := Open(cfg, Components{Webapp: true}, nil); err == nil {
		a.Close()
		t.Fatal("Open succeeded with http.auth.password's variable unset")
	} else if !strings.Contains(err.Error(), "KALE_TEST_APP_WEB_PASSWORD") || !strings.Contains(err.Error(), "http.auth.password") {
		t.Fatalf("Open: %v, want an error naming http.auth.password and its variable", err)
	}
	// Without HTTP the variable is not needed; a component alone that
	// serves /metrics needs it too.
	noHTTP := cfg
	noHTTP.HTTP.Addr = ""
	if a, err := Open(noHTTP, Components{Analyzer: true}, nil); err != nil {
		t.Fatalf("Open without HTTP: %v", err)
	} else {
		a.Close()
	}
	if a, err := Open(cfg, Components{Analyzer: true}, nil); err == nil {
		a.Close()
		t.Fatal("Open of the analyzer with HTTP succeeded with http.auth.password's variable unset")
	}

	t.Setenv("KALE_TEST_APP_WEB_PASSWORD", "pw-from-env")
	a, err := Open(cfg, Components{Webapp: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + a.HTTPAddr().String()
	get := func(path, user, pass string) int {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, user, pass string
		want             int
	}{
		{"/healthz", "", "", 200},
		{"/api/metrics", "", "", 401},
		{"/api/metrics", "ops", "env:KALE_TEST_APP_WEB_PASSWORD", 401},
		{"/api/metrics", "ops", "pw-from-env", 200},
		{"/metrics", "ops", "pw-from-env", 200},
	} {
		if got := get(c.path, c.user, c.pass); got != c.want {
			t.Errorf("GET %s as %q: %d, want %d", c.path, c.user, got, c.want)
		}
	}
}
