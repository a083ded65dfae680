// Package alerttest holds what the channel tests share: an ordinary
// alert, a set of hostile alerts, and a check that no printed text holds
// a secret.
package alerttest

import (
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
