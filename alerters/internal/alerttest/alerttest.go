// Package alerttest holds what the channel tests share: an ordinary
// alert, a set of hostile alerts, a check that no printed text holds a
// secret, the table test of invalid configs, and JSON for comparisons.
package alerttest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/go-kale/kale/alerters"
)

// NaN is math.NaN(), for composite literals.
var NaN = math.NaN()

// Alert returns an ordinary trigger (a fresh copy each call).
func Alert() alerters.Alert {
	return alerters.Alert{
		Kind:      alerters.Trigger,
		Metric:    "web.api.latency",
		Timestamp: 1700000000, // 2023-11-14T22:13:20Z
		Value:     812.5,
		Score:     0.875,
		Detectors: []string{"grubbs", "ks_test"},
		Profile:   "default",
		Rule:      "web.*",
		Link:      "https://kale.example/?metric=web.api.latency",
		DedupKey:  "rule1/pd/web.api.latency",
	}
}

// Hostile returns alerts whose untrusted fields try to break a format:
// header and line injection, HTML and Slack markup, unicode, invalid
// UTF-8, NaN and infinities, empty and huge values, extreme timestamps.
func Hostile() map[string]alerters.Alert {
	long := strings.Repeat("a.", 5000)
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("det%d", i)
	}
	return map[string]alerters.Alert{
		"crlf injection": {Metric: "m\r\nBcc: evil@example.com\r\n\r\nbody", Rule: "r\nX-Evil: 1", DedupKey: "k\r\n"},
		"lf only":        {Metric: "m\nSubject: evil", Detectors: []string{"a\nb"}},
		"script":         {Metric: "<script>alert(1)</script>", Link: "javascript:alert(1)", Rule: `"><img src=x onerror=alert(1)>`},
		"slack markup":   {Metric: "<!channel> <@U123> &amp; <https://evil.example|click>", Link: "https://x.example/?a=1&b=<2>|3"},
		"unicode":        {Metric: "温度.センサー.😀", Value: math.NaN(), Score: math.Inf(1), Profile: "clásico"},
		"encoded word":   {Metric: "=?utf-8?q?fake?=", Value: math.Inf(-1)},
		"invalid utf8":   {Metric: "bad\xff\xfe.metric", Detectors: []string{"\xc3"}, Rule: "\xe2\x80"},
		"empty":          {},
		"long":           {Metric: long, Detectors: many, Rule: long, Link: "https://x.example/" + long, DedupKey: long, Timestamp: math.MaxInt64},
		"nul and dot":    {Metric: "\x00.\r\n.\r\n", Kind: alerters.Resolve, Timestamp: math.MinInt64},
		"separators":     {Metric: "a\u2028b\u2029c\u0085d\x7f", Kind: alerters.Resolve, DedupKey: "d"},
	}
}

// NoSecret fails t when any of texts contains secret (as is, or in hex).
func NoSecret(t testing.TB, secret string, texts ...string) {
	t.Helper()
	hex := fmt.Sprintf("%x", secret)
	for _, s := range texts {
		if strings.Contains(s, secret) || strings.Contains(s, hex) {
			t.Errorf("the secret leaked: %s", s)
		}
	}
}

// InvalidCase is one broken config of a channel's TestValidate: Mutate
// breaks a valid config, and Validate's error must contain Want. It is an
// alias of an unnamed struct so that the tables stay {name, mutate, want}
// literals.
type InvalidCase[C any] = struct {
	Name   string
	Mutate func(*C)
	Want   string
}

// Invalid checks that valid() validates and then, in a subtest per case,
// that the broken config fails Validate with an error containing Want,
// passes check (nil: none) and is refused by newAlerter too.
func Invalid[C interface{ Validate() error }](t *testing.T, valid func() C, newAlerter func(C) error,
	cases []InvalidCase[C], check func(t *testing.T, err error)) {
	t.Helper()
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			c := valid()
			tt.Mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.Want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.Want)
			}
			if check != nil {
				check(t, err)
			}
			if newAlerter(c) == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
}

// JSON parses s (test data or a request body) for comparison, failing t
// when it is not JSON.
func JSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, s)
	}
	return v
}
