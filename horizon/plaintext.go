package horizon

import (
	"errors"
	"strconv"

	"github.com/go-kale/kale/internal/series"
)

// ParsePlaintext parses one line of Graphite's plaintext protocol (carbon's
// line receiver), without its trailing "\n"; one trailing "\r" is tolerated:
//
//	name value timestamp
//
// The three fields are separated by one or more spaces or tabs; blanks before
// the first and after the last field are ignored (carbon strips the line).
// Fewer or more than three fields is ReasonMalformed. The name is taken as it
// is (the filters judge it).
//
// value is parsed with strconv.ParseFloat, so "nan", "inf", "-Infinity" and
// out-of-range literals such as "1e400" (which become ±Inf, as Python's
// float() makes them) are passed through for the filters to reject. Digit
// underscores ("1_000") are accepted as by Python; unlike carbon, Go's syntax
// also accepts hexadecimal floats ("0x1p-2"). Anything unparseable is
// ReasonNonNumeric.
//
// timestamp is integer or float text in UNIX seconds, truncated toward zero.
// If the truncated value is -1 (so "-1", "-1.0" and "-1.5", as carbon's
// int(ts) == -1), the sample gets the timestamp now, go-carbon's and carbon's
// convention for "now". Unparseable, non-finite or outside int64 is
// ReasonBadTimestamp.
//
// On success the only allocation is the name string (value and timestamp
// texts of up to 32 bytes are converted without one). It does not retain line.
func ParsePlaintext(line []byte, now int64) (series.Sample, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var fields [3][]byte
	nf := 0
	for i := 0; ; {
		for i < len(line) && plaintextBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i + 1
		for j < len(line) && !plaintextBlank(line[j]) {
			j++
		}
		if nf == len(fields) {
			return series.Sample{}, reject(ReasonMalformed, "more than 3 fields in %q, want name value timestamp", clipText(line))
		}
		fields[nf] = line[i:j]
		nf++
		i = j
	}
	if nf != len(fields) {
		return series.Sample{}, reject(ReasonMalformed, "%d fields in %q, want name value timestamp", nf, clipText(line))
	}
	v, err := strconv.ParseFloat(string(fields[1]), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return series.Sample{}, reject(ReasonNonNumeric, "value %q is not a number", clipText(fields[1]))
	}
	ts, err := parsePlaintextTimestamp(fields[2])
	if err != nil {
		return series.Sample{}, err
	}
	if ts == -1 {
		ts = now
	}
	return series.Sample{Name: string(fields[0]), Point: series.Point{Timestamp: ts, Value: v}}, nil
}

func plaintextBlank(c byte) bool { return c == ' ' || c == '\t' }

// parsePlaintextTimestamp parses integer or float text as whole seconds, truncated
// toward zero. Decimal integers (the usual case) skip ParseFloat, which also
// keeps integers above 2^53 exact.
func parsePlaintextTimestamp(b []byte) (int64, error) {
	digits := b
	if len(b) > 0 && b[0] == '-' {
		digits = b[1:]
	}
	if plaintextDigits(digits) {
		if len(digits) <= 18 { // cannot overflow int64
			var n int64
			for _, c := range digits {
				n = n*10 + int64(c-'0')
			}
			if len(digits) < len(b) {
				n = -n
			}
			return n, nil
		}
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, reject(ReasonBadTimestamp, "timestamp %q is outside int64", clipText(b))
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, reject(ReasonBadTimestamp, "timestamp %q is not a number", clipText(b))
	}
	if !inInt64(f) {
		return 0, reject(ReasonBadTimestamp, "timestamp %q is not a finite number in int64 seconds", clipText(b))
	}
	return int64(f), nil // truncates toward zero
}

// plaintextDigits reports whether b is one or more ASCII decimal digits.
func plaintextDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clipText shortens b for an error message.
func clipText(b []byte) []byte {
	const limit = 64
	if len(b) > limit {
		return b[:limit]
	}
	return b
}
