package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/alerters"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"999999999", 0}, // more than a day: ignored
		{"Mon, 01 Jan 2024 00:01:00 GMT", time.Minute},
		{"Sun, 31 Dec 2023 23:00:00 GMT", 0}, // past
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPostRedactsAndClassifies(t *testing.T) {
	const secret = "tok/en with space"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("bad token " + r.URL.Path + "\r\n" + strings.Repeat("x", 2000)))
	}))
	defer srv.Close()
	c := NewClient(time.Second)
	err := Post(context.Background(), c, srv.URL+"/"+secret, nil, []byte("{}"), nil, secret)
	var se *alerters.StatusError
	if !errors.As(err, &se) || se.Code != 401 || alerters.Retryable(err) {
		t.Fatalf("Post = %v, want a permanent 401", err)
	}
	if strings.Contains(err.Error(), "tok/en") || strings.Contains(err.Error(), "tok%2Fen") || len(se.Body) > maxErrorBody || strings.ContainsAny(se.Body, "\r\n") {
		t.Errorf("error body %q (%d bytes)", se.Body, len(se.Body))
	}
	srv.Close()
	err = Post(context.Background(), c, srv.URL+"/"+secret, nil, []byte("{}"), nil, secret)
	if err == nil || !alerters.Retryable(err) || strings.Contains(err.Error(), "tok/en") || strings.Contains(err.Error(), "tok%2Fen") {
		t.Errorf("Post to a closed server = %v, want a retryable error without the secret", err)
	}
	err = Post(context.Background(), c, "http://[::1", nil, nil, nil)
	if err == nil || alerters.Retryable(err) {
		t.Errorf("Post to a bad URL = %v, want a permanent error", err)
	}
}
