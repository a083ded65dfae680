// Package httpx posts JSON for the HTTP alert channels (webhook,
// PagerDuty) and turns the outcome into errors that follow the alerters
// error contract and never carry a secret.
package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/text"
)

// maxErrorBody is how much of an error response body an error keeps.
const maxErrorBody = 512

// maxDrain is how much of a response body is read before closing it, so
// the connection can be reused.
const maxDrain = 64 << 10

// NewClient returns an HTTP client with the given overall timeout (0: none)
// that uses the proxy from the environment and does not follow redirects:
// a 3xx answer is returned as it is (and Post reports it as a permanent
// StatusError), so a request and its credentials never go elsewhere.
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Post sends body to rawURL with method POST, Content-Type
// application/json and the extra header, and returns nil when the answer
// is one of ok (or any 2xx when ok is empty).
//
// Otherwise it returns an *alerters.StatusError (its Retryable decides:
// 408, 429 and 5xx retryable, other codes wrapped in Permanent), or the
// transport error (retryable, except a TLS certificate that fails
// verification). Every error has the
// URL removed and every non-empty string of secrets replaced by
// "[redacted]", while still wrapping the cause (context errors, net
// errors) for errors.Is and errors.As.
func Post(ctx context.Context, c *http.Client, rawURL string, header http.Header, body []byte, ok []int, secrets ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return alerters.Permanent(redact(errors.New("cannot build request: invalid URL"), secrets))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "kale-alerter")
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop "Post \"<url>\":"
		}
		err = redact(&opError{op: "cannot post alert", err: err}, secrets)
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return alerters.Permanent(err) // a bad certificate stays bad
		}
		return err
	}
	defer resp.Body.Close()
	if accepted(resp.StatusCode, ok) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	se := &alerters.StatusError{
		Code:       resp.StatusCode,
		Body:       scrub(strings.TrimSpace(text.OneLine(string(head))), secrets),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if se.Retryable() {
		return se
	}
	return alerters.Permanent(se)
}

// accepted reports whether code is in ok, or a 2xx when ok is empty.
func accepted(code int, ok []int) bool {
	if len(ok) == 0 {
		return code >= 200 && code <= 299
	}
	for _, c := range ok {
		if c == code {
			return true
		}
	}
	return false
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date (the
// time left after now). Anything else, or a time in the past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// opError is "op: err", wrapping err.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// redacted is an error whose message has had secrets removed; it still
// wraps the original for errors.Is and errors.As.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact returns err with every non-empty secret in its message replaced
// by "[redacted]" (err itself when none occurs).
func redact(err error, secrets []string) error {
	msg := err.Error()
	s := scrub(msg, secrets)
	if s == msg {
		return err
	}
	return &redacted{msg: s, err: err}
}

// scrub replaces every non-empty secret in s by "[redacted]", and the
// query-escaped and path-escaped forms of each too.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, alerters.Redacted)
		}
	}
	return s
}
