package parity

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Vote is one algorithm's vote in a verdict file: true, false or null.
// Its values are those of algorithms.Vote, so a conversion Vote(v) maps
// one onto the other.
type Vote int8

// The three votes. Skyline counts only No votes towards its consensus, so a
// None (the algorithm returned nothing) acts as a yes vote.
const (
	No   Vote = 0
	Yes  Vote = 1
	None Vote = -1
)

// String returns the vote's JSON form: "false", "true" or "null".
func (v Vote) String() string {
	switch v {
	case No:
		return "false"
	case Yes:
		return "true"
	case None:
		return "null"
	}
	return "Vote(" + strconv.Itoa(int(v)) + ")"
}

// Header is the first line of a verdict file:
//
//	{"algorithms": ["first_hour_average", ...], "consensus": 6, "full_duration": 86400, "now": 1700085590}
//
// the algorithms in vote order, Skyline's CONSENSUS and FULL_DURATION
// (seconds), and the analysis time now (the last timestamp of the corpus).
type Header struct {
	Algorithms   []string
	Consensus    int
	FullDuration int64
	Now          int64
}

// Verdict is one metric's line of a verdict file:
//
//	{"metric": 7, "anomalous": false, "ensemble": [false, true, ..., null, false]}
//
// the metric's index in the corpus, the ensemble's decision and one vote per
// algorithm in the header's order.
type Verdict struct {
	Metric    int
	Anomalous bool
	Votes     []Vote
}

// maxLine bounds a verdict file's line (a header of many long names).
const maxLine = 1 << 20

// ReadVerdicts reads a verdict file: the header line, then one line per
// metric; blank lines are skipped. It checks every line strictly (known
// keys only, each present, one JSON object per line), that each ensemble
// has one vote per algorithm, that the consensus is between 1 and the number
// of algorithms, and that no metric is negative or repeated; errors wrap
// ErrVerdicts and name the line.
func ReadVerdicts(r io.Reader) (Header, []Verdict, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		h       Header
		haveHdr bool
		out     []Verdict
		seen    = map[int]int{}
		lineNo  int
	)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: "+format, append([]any{ErrVerdicts, lineNo}, args...)...)
	}
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !haveHdr {
			var raw struct {
				Algorithms   []string `json:"algorithms"`
				Consensus    *int     `json:"consensus"`
				FullDuration *int64   `json:"full_duration"`
				Now          *int64   `json:"now"`
			}
			if err := decodeStrict(line, &raw); err != nil {
				return Header{}, nil, bad("header: %v", err)
			}
			switch {
			case len(raw.Algorithms) == 0:
				return Header{}, nil, bad("header: no algorithms")
			case raw.Consensus == nil || raw.FullDuration == nil || raw.Now == nil:
				return Header{}, nil, bad("header: want algorithms, consensus, full_duration and now")
			case *raw.Consensus < 1 || *raw.Consensus > len(raw.Algorithms):
				return Header{}, nil, bad("header: consensus %d with %d algorithms", *raw.Consensus, len(raw.Algorithms))
			}
			h = Header{Algorithms: raw.Algorithms, Consensus: *raw.Consensus, FullDuration: *raw.FullDuration, Now: *raw.Now}
			haveHdr = true
			continue
		}
		var raw struct {
			Metric    *int    `json:"metric"`
			Anomalous *bool   `json:"anomalous"`
			Ensemble  []*bool `json:"ensemble"`
		}
		if err := decodeStrict(line, &raw); err != nil {
			return Header{}, nil, bad("%v", err)
		}
		switch {
		case raw.Metric == nil || raw.Anomalous == nil || raw.Ensemble == nil:
			return Header{}, nil, bad("want metric, anomalous (true or false) and ensemble")
		case *raw.Metric < 0:
			return Header{}, nil, bad("metric %d is negative", *raw.Metric)
		case len(raw.Ensemble) != len(h.Algorithms):
			return Header{}, nil, bad("metric %d has %d votes for %d algorithms", *raw.Metric, len(raw.Ensemble), len(h.Algorithms))
		}
		if prev, ok := seen[*raw.Metric]; ok {
			return Header{}, nil, bad("metric %d repeats line %d", *raw.Metric, prev)
		}
		seen[*raw.Metric] = lineNo
		v := Verdict{Metric: *raw.Metric, Anomalous: *raw.Anomalous, Votes: make([]Vote, len(raw.Ensemble))}
		for i, b := range raw.Ensemble {
			switch {
			case b == nil:
				v.Votes[i] = None
			case *b:
				v.Votes[i] = Yes
			default:
				v.Votes[i] = No
			}
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return Header{}, nil, fmt.Errorf("cannot read verdicts: line %d: %w", lineNo+1, err)
	}
	if !haveHdr {
		return Header{}, nil, fmt.Errorf("%w: empty file, no header line", ErrVerdicts)
	}
	return h, out, nil
}

// decodeStrict decodes exactly one JSON object with known keys from b.
func decodeStrict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// WriteVerdicts writes a verdict file in exactly the form of the shared
// *.skyline.jsonl files (Python's json.dumps: ", " and ": " separators,
// ASCII-only strings), one line each, verdicts in the given order. It
// returns an error wrapping ErrVerdicts, before writing anything, if the
// header has no algorithms or a verdict's votes do not match them.
func WriteVerdicts(w io.Writer, h Header, vs []Verdict) error {
	if len(h.Algorithms) == 0 {
		return fmt.Errorf("cannot write verdicts: %w: header has no algorithms", ErrVerdicts)
	}
	for _, v := range vs {
		if err := v.check(len(h.Algorithms)); err != nil {
			return fmt.Errorf("cannot write verdicts: %w", err)
		}
	}
	bw := bufio.NewWriter(w)
	buf := h.AppendJSON(nil)
	buf = append(buf, '\n')
	bw.Write(buf)
	for _, v := range vs {
		buf = v.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cannot write verdicts: %w", err)
	}
	return nil
}

func (v Verdict) check(algorithms int) error {
	if v.Metric < 0 {
		return fmt.Errorf("%w: metric %d is negative", ErrVerdicts, v.Metric)
	}
	if len(v.Votes) != algorithms {
		return fmt.Errorf("%w: metric %d has %d votes for %d algorithms", ErrVerdicts, v.Metric, len(v.Votes), algorithms)
	}
	for _, x := range v.Votes {
		if x != No && x != Yes && x != None {
			return fmt.Errorf("%w: metric %d has vote %v", ErrVerdicts, v.Metric, x)
		}
	}
	return nil
}

// AppendJSON appends the header's line (without the newline) to dst.
func (h Header) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"algorithms": [`...)
	for i, a := range h.Algorithms {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendPyString(dst, a)
	}
	dst = append(dst, `], "consensus": `...)
	dst = strconv.AppendInt(dst, int64(h.Consensus), 10)
	dst = append(dst, `, "full_duration": `...)
	dst = strconv.AppendInt(dst, h.FullDuration, 10)
	dst = append(dst, `, "now": `...)
	dst = strconv.AppendInt(dst, h.Now, 10)
	return append(dst, '}')
}

// AppendJSON appends the verdict's line (without the newline) to dst.
func (v Verdict) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"metric": `...)
	dst = strconv.AppendInt(dst, int64(v.Metric), 10)
	dst = append(dst, `, "anomalous": `...)
	dst = strconv.AppendBool(dst, v.Anomalous)
	dst = append(dst, `, "ensemble": [`...)
	for i, x := range v.Votes {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, x.String()...)
	}
	return append(dst, "]}"...)
}

// appendPyString appends s as Python's json.dumps writes it with
// ensure_ascii: short escapes for " \ \n \r \t \b \f, \u00XX for other
// control characters and DEL, \uXXXX (surrogate pairs above U+FFFF) for non-ASCII;
// invalid UTF-8 becomes U+FFFD.
func appendPyString(dst []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
	u4 := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hexdig[r>>12&15], hexdig[r>>8&15], hexdig[r>>4&15], hexdig[r&15])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, `\"`...)
		case r == '\\':
			dst = append(dst, `\\`...)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r < 0x20 || r == 0x7f:
			dst = u4(dst, r)
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			dst = u4(dst, 0xD800+(r>>10))
			dst = u4(dst, 0xDC00+(r&0x3FF))
		default:
			dst = u4(dst, r)
		}
	}
	return append(dst, '"')
}
