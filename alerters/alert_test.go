package alerters

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func TestKind(t *testing.T) {
	tests := []struct {
		k     Kind
		s     string
		valid bool
	}{
		{Trigger, "trigger", true},
		{Resolve, "resolve", true},
		{Kind(2), "Kind(2)", false},
		{Kind(-1), "Kind(-1)", false},
	}
	for _, tt := range tests {
		if tt.k.String() != tt.s || tt.k.Valid() != tt.valid {
			t.Errorf("Kind %d: String %q Valid %v; want %q %v", int(tt.k), tt.k.String(), tt.k.Valid(), tt.s, tt.valid)
		}
		err := Alert{Kind: tt.k}.Validate()
		if (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrBadKind)) {
			t.Errorf("Validate(Kind %d) = %v", int(tt.k), err)
		}
	}
	if got := (Alert{Timestamp: 1700000000}).Time(); !got.Equal(time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("Time() = %v", got)
	}
}

func TestRetryable(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", base, true},
		{"permanent", Permanent(base), false},
		{"wrapped permanent", fmt.Errorf("cannot send: %w", Permanent(base)), false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"bad kind", fmt.Errorf("x: %w", ErrBadKind), false},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"400", &StatusError{Code: 400}, false},
		{"401", &StatusError{Code: 401}, false},
		{"404", &StatusError{Code: 404}, false},
		{"408", &StatusError{Code: 408}, true},
		{"429", fmt.Errorf("x: %w", &StatusError{Code: 429}), true},
		{"500", &StatusError{Code: 500}, true},
		{"503", &StatusError{Code: 503}, true},
		{"302", &StatusError{Code: 302}, false},
		{"permanent 503", Permanent(&StatusError{Code: 503}), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	p := Permanent(base)
	if p.Error() != "boom" || !errors.Is(p, base) {
		t.Errorf("Permanent(base) = %q, Is(base) = %v", p.Error(), errors.Is(p, base))
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		err  *StatusError
		want string
	}{
		{&StatusError{Code: 503}, "HTTP 503 Service Unavailable"},
		{&StatusError{Code: 400, Body: `{"status":"invalid event"}`}, `HTTP 400 Bad Request: {"status":"invalid event"}`},
		{&StatusError{Code: 599}, "HTTP 599"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
