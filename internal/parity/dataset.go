package parity

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Dataset is an open corpus file. Its values are read from the file on
// demand, metric by metric; its methods are safe for concurrent use, each
// Iter by one goroutine at a time.
type Dataset struct {
	// Params are the corpus parameters from the file header.
	Params Params

	f *os.File
	t []int64
}

// Open opens a corpus file and validates it: magic, zero padding, valid
// parameters (errors wrap ErrFormat or ErrParams) and a size of exactly
// 64 + 8*M*N bytes (ErrFormat). Close it when done.
func Open(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open dataset: %w", err)
	}
	d, err := newDataset(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot open dataset %s: %w", path, err)
	}
	return d, nil
}

func newDataset(f *os.File) (*Dataset, error) {
	hdr := make([]byte, HeaderSize)
	if n, err := io.ReadFull(f, hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: file is %d bytes, shorter than the %d-byte header", ErrFormat, n, HeaderSize)
		}
		return nil, err
	}
	p, err := ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != p.Size() {
		return nil, fmt.Errorf("%w: file is %d bytes, want %d for %d metrics of %d points (truncated or trailing data)",
			ErrFormat, st.Size(), p.Size(), p.Metrics, p.Points)
	}
	t := make([]int64, p.Points)
	for i := range t {
		t[i] = p.T0 + int64(i)*p.Step
	}
	return &Dataset{Params: p, f: f, t: t}, nil
}

// Close closes the file.
func (d *Dataset) Close() error { return d.f.Close() }

// Times returns the timestamps shared by every metric, T0 + i*STEP. The
// slice is the Dataset's own: do not modify it.
func (d *Dataset) Times() []int64 { return d.t }

// Tail reports whether metric m has an injected anomalous tail, the
// ground truth derived from the header's seed and anomaly fraction.
func (d *Dataset) Tail(m int) bool { return d.Params.Tail(m) }

// Iter returns an iterator over every metric.
func (d *Dataset) Iter() *Iter { return d.Range(0, d.Params.Metrics) }

// Range returns an iterator over metrics from (inclusive) to to
// (exclusive), clamped to [0, M]: give each worker its own range.
func (d *Dataset) Range(from, to int) *Iter {
	from = max(0, min(from, d.Params.Metrics))
	to = max(from, min(to, d.Params.Metrics))
	return &Iter{
		d:    d,
		next: from,
		end:  to,
		m:    -1,
		buf:  make([]byte, 8*d.Params.Points),
		v:    make([]float64, d.Params.Points),
	}
}

// Sums reads the whole file and returns its digests, to compare with a
// shared corpus's .json.
func (d *Dataset) Sums() (Sums, error) {
	hv, hf := sha256.New(), sha256.New()
	r := io.NewSectionReader(d.f, 0, d.Params.Size())
	if _, err := io.CopyN(hf, r, HeaderSize); err != nil {
		return Sums{}, fmt.Errorf("cannot hash dataset: %w", err)
	}
	if _, err := io.Copy(io.MultiWriter(hv, hf), r); err != nil {
		return Sums{}, fmt.Errorf("cannot hash dataset: %w", err)
	}
	var s Sums
	hv.Sum(s.Values[:0])
	hf.Sum(s.File[:0])
	return s, nil
}

// Iter reads metrics one after the other into buffers allocated once:
//
//	it := d.Iter()
//	for it.Next() {
//		use(it.Metric(), it.Times(), it.Values())
//	}
//	if err := it.Err(); err != nil { ... }
//
// Values is overwritten by the next call of Next or Seek (the caller may
// modify it in between); Times is shared by every metric and must not be
// modified.
type Iter struct {
	d         *Dataset
	next, end int
	m         int
	buf       []byte
	v         []float64
	err       error
}

// Next reads the next metric of the range and reports whether there was
// one; it returns false at the end of the range or on a read error (see Err).
func (it *Iter) Next() bool {
	if it.err != nil || it.next >= it.end {
		return false
	}
	if err := it.read(it.next); err != nil {
		it.err = err
		return false
	}
	it.next++
	return true
}

// Seek reads metric m (any metric of the file, not only of the range) and
// makes it the current one; Next then continues after m.
func (it *Iter) Seek(m int) error {
	if m < 0 || m >= it.d.Params.Metrics {
		return fmt.Errorf("cannot read metric %d: out of range [0, %d)", m, it.d.Params.Metrics)
	}
	if err := it.read(m); err != nil {
		return err
	}
	it.next = m + 1
	return nil
}

func (it *Iter) read(m int) error {
	off := HeaderSize + int64(m)*int64(len(it.buf))
	if _, err := it.d.f.ReadAt(it.buf, off); err != nil {
		return fmt.Errorf("cannot read metric %d: %w", m, err)
	}
	for i := range it.v {
		it.v[i] = math.Float64frombits(binary.LittleEndian.Uint64(it.buf[8*i:]))
	}
	it.m = m
	return nil
}

// Metric returns the index of the current metric, -1 before the first Next.
func (it *Iter) Metric() int { return it.m }

// Times returns the timestamps of the current metric (shared by all).
func (it *Iter) Times() []int64 { return it.d.t }

// Values returns the values of the current metric.
func (it *Iter) Values() []float64 { return it.v }

// Tail reports whether the current metric has an injected anomalous tail.
func (it *Iter) Tail() bool { return it.m >= 0 && it.d.Params.Tail(it.m) }

// Err returns the read error that stopped Next, if any.
func (it *Iter) Err() error { return it.err }
