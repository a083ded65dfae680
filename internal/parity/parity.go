// Package parity is the tooling around the Skyline parity corpora of
// ../shared/parity: the bit-exact generator of the synthetic SKYBNCH1
// dataset files, a reader for them, the verdict files (*.skyline.jsonl)
// that record Etsy Skyline's decisions metric by metric and vote by vote,
// and the comparison of two sets of verdicts.
//
// # Dataset file (SKYBNCH1)
//
// All integers little-endian:
//
//	offset  size  field
//	     0     8  magic "SKYBNCH1"
//	     8     4  uint32 M, metrics
//	    12     4  uint32 N, points per metric
//	    16     8  int64  T0, first timestamp (UNIX seconds)
//	    24     8  int64  STEP, seconds between points
//	    32     8  uint64 SEED
//	    40     8  float64 bits of the anomaly fraction
//	    48    16  zero padding
//	    64  8*M*N float64 values [M][N], metric-major;
//	              the timestamp of point i is T0 + i*STEP
//
// sha256_values is the SHA-256 of the bytes from offset 64 to the end;
// sha256_file that of the whole file.
package parity

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
)

// Format constants.
const (
	// Magic opens every dataset file.
	Magic = "SKYBNCH1"
	// HeaderSize is the size of the file header in bytes; values follow.
	HeaderSize = 64
	// DefaultT0 is the first timestamp of the shared corpora (hour aligned).
	DefaultT0 int64 = 1699999200
	// DefaultAnomalyFraction is the share of metrics given an anomalous tail.
	DefaultAnomalyFraction = 0.05
)

// Sentinel errors, wrapped by the errors this package returns.
var (
	// ErrParams: corpus parameters outside what the generator defines.
	ErrParams = errors.New("invalid corpus parameters")
	// ErrFormat: a file is not a valid SKYBNCH1 dataset.
	ErrFormat = errors.New("not a valid SKYBNCH1 dataset")
	// ErrVerdicts: a verdict file is malformed.
	ErrVerdicts = errors.New("invalid verdict file")
	// ErrNoShared: the shared parity directory was not found.
	ErrNoShared = errors.New("shared parity directory not found")
)

// Params are the parameters of a corpus, as stored in the file header.
type Params struct {
	Metrics         int     // M, 1 .. 2^32-1
	Points          int     // N, 3 .. 2^32-1 (20 or more when the series spans 8 hours or more)
	T0              int64   // first timestamp, UNIX seconds
	Step            int64   // seconds between points, > 0
	Seed            uint64  // generator seed
	AnomalyFraction float64 // metric m gets an anomalous tail when U(m,5) < AnomalyFraction; in [0, 1]
}

// NewParams returns the parameters of a corpus with the defaults of the
// shared corpora: T0 = DefaultT0, AnomalyFraction = DefaultAnomalyFraction.
func NewParams(metrics, points int, step int64, seed uint64) Params {
	return Params{Metrics: metrics, Points: points, T0: DefaultT0, Step: step, Seed: seed, AnomalyFraction: DefaultAnomalyFraction}
}

// Validate reports, wrapping ErrParams, parameters for which the recipe is
// undefined or the file would not fit: counts out of uint32 range, fewer
// than 3 points (the tail spans the last 3), spikes with fewer than 20
// points (their positions are drawn in [0, N-20)), a non-positive step,
// timestamps overflowing int64, a file larger than 2^63 bytes, or an
// anomaly fraction that is NaN or outside [0, 1].
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrParams}, args...)...)
	}
	switch {
	case p.Metrics < 1 || uint64(p.Metrics) > math.MaxUint32:
		return bad("metrics %d: want 1 .. %d", p.Metrics, uint32(math.MaxUint32))
	case p.Points < 3 || uint64(p.Points) > math.MaxUint32:
		return bad("points %d: want 3 .. %d", p.Points, uint32(math.MaxUint32))
	case p.Step < 1:
		return bad("step %d: want > 0", p.Step)
	case !(p.AnomalyFraction >= 0 && p.AnomalyFraction <= 1):
		return bad("anomaly fraction %v: want 0 .. 1", p.AnomalyFraction)
	}
	// The last timestamp plus a phase offset below one day must fit.
	n := int64(p.Points)
	if p.Step > (math.MaxInt64-86400)/n || (p.T0 > 0 && p.T0 > math.MaxInt64-86400-n*p.Step) {
		return bad("t0 %d + points %d * step %d overflows int64", p.T0, p.Points, p.Step)
	}
	if uint64(p.Metrics) > (math.MaxInt64-HeaderSize)/8/uint64(p.Points) {
		return bad("%d metrics of %d points do not fit in a file", p.Metrics, p.Points)
	}
	if p.spikes() > 0 && p.Points < 20 {
		return bad("points %d at step %d: spikes need at least 20 points", p.Points, p.Step)
	}
	return nil
}

// spikes is S = min(3, floor(N*STEP/28800)).
func (p Params) spikes() int {
	return int(min(3, int64(p.Points)*p.Step/28800))
}

// Size returns the size of the corpus file in bytes: 64 + 8*M*N.
func (p Params) Size() int64 {
	return HeaderSize + 8*int64(p.Metrics)*int64(p.Points)
}

// AppendHeader appends the 64-byte file header of p to dst.
func (p Params) AppendHeader(dst []byte) []byte {
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Metrics))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Points))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(p.T0))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(p.Step))
	dst = binary.LittleEndian.AppendUint64(dst, p.Seed)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.AnomalyFraction))
	return append(dst, make([]byte, 16)...)
}

// ParseHeader decodes a 64-byte file header. It returns an error wrapping
// ErrFormat for a short header, a wrong magic or non-zero padding, and one
// wrapping ErrParams for parameters Validate rejects.
func ParseHeader(b []byte) (Params, error) {
	if len(b) < HeaderSize {
		return Params{}, fmt.Errorf("%w: header is %d bytes, want %d", ErrFormat, len(b), HeaderSize)
	}
	if string(b[:8]) != Magic {
		return Params{}, fmt.Errorf("%w: magic %q, want %q", ErrFormat, b[:8], Magic)
	}
	for i, c := range b[48:HeaderSize] {
		if c != 0 {
			return Params{}, fmt.Errorf("%w: padding byte %d is %#x, want 0", ErrFormat, 48+i, c)
		}
	}
	le := binary.LittleEndian
	p := Params{
		Metrics:         int(le.Uint32(b[8:])),
		Points:          int(le.Uint32(b[12:])),
		T0:              int64(le.Uint64(b[16:])),
		Step:            int64(le.Uint64(b[24:])),
		Seed:            le.Uint64(b[32:]),
		AnomalyFraction: math.Float64frombits(le.Uint64(b[40:])),
	}
	if err := p.Validate(); err != nil {
		return Params{}, fmt.Errorf("cannot parse header: %w", err)
	}
	return p, nil
}

// Sums are the SHA-256 digests of a corpus: of the values (float64
// little-endian, metric-major: the file from offset 64) and of the whole
// file.
type Sums struct {
	Values [32]byte
	File   [32]byte
}

// ValuesHex returns Values in lower-case hex, as in the shared .json files.
func (s Sums) ValuesHex() string { return hex.EncodeToString(s.Values[:]) }

// FileHex returns File in lower-case hex, as in the shared .json files.
func (s Sums) FileHex() string { return hex.EncodeToString(s.File[:]) }
