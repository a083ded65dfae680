package horizon

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/internal/series"
)

const plaintextNow = 1700000999

func TestParsePlaintext(t *testing.T) {
	sample := func(name string, ts int64, v float64) series.Sample {
		return series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}}
	}
	tests := []struct {
		line   string
		want   series.Sample
		reason Reason
	}{
		// accepted
		{line: "a.b.c 42.5 1700000000", want: sample("a.b.c", 1700000000, 42.5)},
		{line: "a.b.c 42.5 1700000000\r", want: sample("a.b.c", 1700000000, 42.5)},
		{line: "a.b.c\t42\t1700000000", want: sample("a.b.c", 1700000000, 42)},
		{line: "  a.b.c  \t 42 \t\t 1700000000  ", want: sample("a.b.c", 1700000000, 42)},
		{line: "a 42 1700000000 \r", want: sample("a", 1700000000, 42)},
		{line: "a -1.25e-3 1700000000", want: sample("a", 1700000000, -1.25e-3)},
		{line: "a +7 +1700000000", want: sample("a", 1700000000, 7)},
		{line: "a 0x1p-2 1700000000", want: sample("a", 1700000000, 0.25)},
		{line: "a 1_000 1_700_000_000", want: sample("a", 1700000000, 1000)},
		{line: "a -0 1700000000", want: sample("a", 1700000000, math.Copysign(0, -1))},
		{line: "a 1 1700000000.999", want: sample("a", 1700000000, 1)},
		{line: "a 1 1.7e9", want: sample("a", 1700000000, 1)},
		{line: "a 1 -5.9", want: sample("a", -5, 1)},
		{line: "a 1 -0", want: sample("a", 0, 1)},
		{line: "a 1 0017", want: sample("a", 17, 1)},
		{line: "a 1 9223372036854775807", want: sample("a", math.MaxInt64, 1)},
		{line: "a 1 -9223372036854775808", want: sample("a", math.MinInt64, 1)},
		{line: "a 1 -9223372036854775808.0", want: sample("a", math.MinInt64, 1)},
		{line: "a 1 4503599627370497", want: sample("a", 4503599627370497, 1)}, // 2^52+1, exact
		// "now" (carbon and go-carbon: int(ts) == -1)
		{line: "a 1 -1", want: sample("a", plaintextNow, 1)},
		{line: "a 1 -1.0", want: sample("a", plaintextNow, 1)},
		{line: "a 1 -1.5", want: sample("a", plaintextNow, 1)},
		{line: "a 1 -2", want: sample("a", -2, 1)},
		// values the filters reject later, passed through
		{line: "a nan 1700000000", want: sample("a", 1700000000, math.NaN())},
		{line: "a NaN 1700000000", want: sample("a", 1700000000, math.NaN())},
		{line: "a inf 1700000000", want: sample("a", 1700000000, math.Inf(1))},
		{line: "a -Infinity 1700000000", want: sample("a", 1700000000, math.Inf(-1))},
		{line: "a 1e400 1700000000", want: sample("a", 1700000000, math.Inf(1))},
		{line: "a -1e400 1700000000", want: sample("a", 1700000000, math.Inf(-1))},
		{line: "a 1e-400 1700000000", want: sample("a", 1700000000, 0)},
		// names are the filters' business
		{line: "caf\xc3\xa9.\xff\x01 1 2", want: sample("caf\xc3\xa9.\xff\x01", 2, 1)},
		{line: "a\r 1 2", want: sample("a\r", 2, 1)},
		// malformed
		{line: "", reason: ReasonMalformed},
		{line: "\r", reason: ReasonMalformed},
		{line: " \t ", reason: ReasonMalformed},
		{line: "a", reason: ReasonMalformed},
		{line: "a 1", reason: ReasonMalformed},
		{line: "a 1 2 3", reason: ReasonMalformed},
		{line: "a 1 2 x", reason: ReasonMalformed},
		{line: "a,1,2", reason: ReasonMalformed},
		{line: "a 1\n2", reason: ReasonMalformed}, // newline is not a separator
		// non-numeric value
		{line: "a x 1700000000", reason: ReasonNonNumeric},
		{line: "a 1__000 1700000000", reason: ReasonNonNumeric},
		{line: "a 1,5 1700000000", reason: ReasonNonNumeric},
		{line: "a 0x10 1700000000", reason: ReasonNonNumeric}, // hex needs a p exponent
		{line: "a 1.5\v 1700000000", reason: ReasonNonNumeric},
		// bad timestamps
		{line: "a 1 now", reason: ReasonBadTimestamp},
		{line: "a 1 1700000000\r\r", reason: ReasonBadTimestamp},
		{line: "a 1 -", reason: ReasonBadTimestamp},
		{line: "a 1 nan", reason: ReasonBadTimestamp},
		{line: "a 1 inf", reason: ReasonBadTimestamp},
		{line: "a 1 -inf", reason: ReasonBadTimestamp},
		{line: "a 1 1e400", reason: ReasonBadTimestamp},
		{line: "a 1 9223372036854775808", reason: ReasonBadTimestamp},
		{line: "a 1 -9223372036854775809", reason: ReasonBadTimestamp},
		{line: "a 1 9223372036854775807.0", reason: ReasonBadTimestamp}, // rounds to 2^63
		{line: "a 1 99999999999999999999999", reason: ReasonBadTimestamp},
		{line: "a 1 1e19", reason: ReasonBadTimestamp},
		{line: "a 1 17000000x0", reason: ReasonBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.line), func(t *testing.T) {
			got, err := ParsePlaintext([]byte(tt.line), plaintextNow)
			if reason := rejectReasonOf(t, err); reason != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", reason, err, tt.reason)
			}
			if diff := cmp.Diff(tt.want, got, cmpFloatBits); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParsePlaintextMessages checks that error messages quote the
// offending text and stay short on long garbage.
func TestParsePlaintextMessages(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"a 1", `malformed: 2 fields in "a 1", want name value timestamp`},
		{"a x 2", `non_numeric: value "x" is not a number`},
		{"a 1 y", `bad_timestamp: timestamp "y" is not a number`},
		{"a 1 2 " + strings.Repeat("z", 100), `malformed: more than 3 fields in "a 1 2 ` + strings.Repeat("z", 58) + `", want name value timestamp`},
	}
	for _, tt := range tests {
		_, err := ParsePlaintext([]byte(tt.line), 0)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParsePlaintext(%q) error = %v, want %s", tt.line, err, tt.want)
		}
	}
}

// TestParsePlaintextCopiesName checks that the sample does not alias the
// line, which a listener's reader reuses.
func TestParsePlaintextCopiesName(t *testing.T) {
	line := []byte("keep.me 1 2")
	got, err := ParsePlaintext(line, 0)
	if err != nil {
		t.Fatal(err)
	}
	copy(line, "XXXXXXX")
	if got.Name != "keep.me" {
		t.Errorf("name = %q after the line was overwritten", got.Name)
	}
}

// TestParsePlaintextAllocs pins the allocation contract: the name string is
// the only allocation for a well-formed line, float timestamp or not.
func TestParsePlaintextAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocation counts")
	}
	for _, line := range []string{
		"servers.web01.cpu.user 42.5 1700000000",
		"servers.web01.cpu.user -1.2345678901234567e-05 1700000000.5",
		"servers.web01.cpu.user nan -1",
	} {
		b := []byte(line)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := ParsePlaintext(b, 1); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("ParsePlaintext(%q) makes %.0f allocations, want 1 (the name)", line, allocs)
		}
	}
}

// FuzzParsePlaintext: ParsePlaintext never panics, refuses only with a
// *RejectError of a parser reason, and a sample it returns formats back to a
// line that parses to the same sample.
func FuzzParsePlaintext(f *testing.F) {
	for _, s := range []string{
		"a.b.c 42.5 1700000000", "a 1 -1", "a nan 1.5e9\r", " a\t-inf\t0 ", "a 1 2 3", "a x 1",
		"a 1 9223372036854775807", "a 0x1p-2 -9223372036854775808.0", "a 1e400 1", "", "\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := ParsePlaintext(line, plaintextNow)
		if err != nil {
			switch r := rejectReasonOf(t, err); r {
			case ReasonMalformed, ReasonBadTimestamp, ReasonNonNumeric:
			default:
				t.Fatalf("unexpected reason %q", r)
			}
			return
		}
		again := got.Name + " " + strconv.FormatFloat(got.Value, 'g', -1, 64) + " " + strconv.FormatInt(got.Timestamp, 10)
		back, err := ParsePlaintext([]byte(again), plaintextNow)
		if err != nil {
			t.Fatalf("re-formatted %q: %v", again, err)
		}
		if diff := cmp.Diff(got, back, cmpFloatBits); diff != "" {
			t.Errorf("round trip of %q via %q (-first +second):\n%s", line, again, diff)
		}
	})
}

// BenchmarkParsePlaintext parses typical carbon lines: integer and float
// timestamps, integer and float values.
func BenchmarkParsePlaintext(b *testing.B) {
	lines := [][]byte{
		[]byte("servers.web01.cpu.user 42.5 1700000000"),
		[]byte("servers.web01.cpu.system 3 1700000000"),
		[]byte("stats.timers.api.login.upper_90 123.456789 1700000000.25"),
		[]byte("carbon.agents.host-a.metricsReceived 10250 1700000000"),
	}
	var n int64
	for _, l := range lines {
		n += int64(len(l)) + 1 // with the "\n" the caller strips
	}
	b.ReportAllocs()
	b.SetBytes(n)
	for b.Loop() {
		for _, l := range lines {
			if _, err := ParsePlaintext(l, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}
