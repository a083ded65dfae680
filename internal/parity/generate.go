package parity

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// gamma is SplitMix64's increment, the golden ratio in 64-bit fixed point.
const gamma uint64 = 0x9E3779B97F4A7C15

// mix64 is SplitMix64's finaliser (modulo 2^64 arithmetic).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// stream returns stream(m) = mix64(SEED + (m+1)*GAMMA).
func stream(seed uint64, m int) uint64 {
	return mix64(seed + uint64(m+1)*gamma)
}

// uniform returns U(m, k) = float64(mix64(stream(m) + (k+1)*GAMMA) >> 11) * 2^-53,
// in [0, 1), for s = stream(m). Both operations are exact.
func uniform(s uint64, k int) float64 {
	return float64(mix64(s+uint64(k+1)*gamma)>>11) * 0x1p-53
}

// Tail reports whether metric m of the corpus has an injected anomalous
// tail (the ground truth): U(m,5) < AnomalyFraction.
func (p Params) Tail(m int) bool {
	return uniform(stream(p.Seed, m), 5) < p.AnomalyFraction
}

// TailMetrics returns, ascending, the metrics with an anomalous tail: the
// "tail_anomalous_metrics" list of the shared .json files.
func (p Params) TailMetrics() []int {
	var out []int
	for m := range p.Metrics {
		if p.Tail(m) {
			out = append(out, m)
		}
	}
	return out
}

// GenerateMetric writes the N values of metric m (0 <= m < M) of the corpus
// p into dst, reusing its storage when cap(dst) >= N, and returns it. p must
// be valid (see Validate); GenerateMetric panics otherwise or when m is out
// of range.
//
// The recipe of ../shared/parity/README.md, where U(m,k) is the k-th
// SplitMix64 draw of metric m's stream, every line one IEEE-754 double
// operation evaluated left to right (every product is converted explicitly
// so that the compiler cannot fuse it into an FMA):
//
//	base  = 10 + 990*U(m,0)
//	amp   = base * (0.1 + 0.4*U(m,1))
//	sigma = base * (0.01 + 0.09*U(m,2))
//	off   = int64(floor(86400*U(m,3)))
//	trend = (base*0.02) * (U(m,4) - 0.5)
//	S     = min(3, floor(N*STEP/28800));  pos_j = int64(floor(float64(N-20) * U(m,6+j)))
//	h_j   = (1 + U(m,9+j)) * (amp + 10*sigma)
//	H     = (1.5*U(m,12))*amp + (1 + 4*U(m,13))*sigma
//	noise_i = (U(m,16+12i) + ... + U(m,27+12i)) - 6
//	ph  = float64((t_i + off) mod 86400) / 86400,  d = 2*|ph - 0.5|,  s = 1 - (d*d)*(3 - 2*d)
//	v_i = ((base + amp*s) + trend*(float64(t_i - T0)/86400)) + sigma*noise_i
//
// then v[pos_j] += h_j for j < S, and when Tail(m): v[N-3], v[N-2], v[N-1] += H.
func GenerateMetric(dst []float64, p Params, m int) []float64 {
	if m < 0 || m >= p.Metrics {
		panic(fmt.Sprintf("parity: metric %d out of range [0, %d)", m, p.Metrics))
	}
	n := p.Points
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	v := dst[:n]
	s := stream(p.Seed, m)
	u := func(k int) float64 { return uniform(s, k) }

	base := 10 + float64(990*u(0))
	amp := float64(base * (0.1 + float64(0.4*u(1))))
	sigma := float64(base * (0.01 + float64(0.09*u(2))))
	off := int64(math.Floor(float64(86400 * u(3))))
	trend := float64(float64(base*0.02) * (u(4) - 0.5))
	tail := u(5) < p.AnomalyFraction

	// Per point: twelve consecutive draws of the stream, from k = 16.
	k0 := 16
	ctr := s + uint64(k0+1)*gamma // stream(m) + (k+1)*GAMMA for k = 16, modulo 2^64
	for i := range v {
		acc := float64(float64(mix64(ctr)>>11) * 0x1p-53)
		ctr += gamma
		for range 11 {
			acc += float64(float64(mix64(ctr)>>11) * 0x1p-53)
			ctr += gamma
		}
		noise := acc - 6
		di := int64(i) * p.Step
		ph := float64(floorMod(p.T0+di+off, 86400)) / 86400
		d := float64(2 * math.Abs(ph-0.5))
		sm := 1 - float64(float64(d*d)*(3-float64(2*d)))
		x := base + float64(amp*sm)
		x += float64(trend * (float64(di) / 86400))
		x += float64(sigma * noise)
		v[i] = x
	}
	for j := range p.spikes() {
		pos := int64(math.Floor(float64(float64(n-20) * u(6+j))))
		h := float64((1 + u(9+j)) * (amp + float64(10*sigma)))
		v[pos] += h
	}
	if tail {
		h := float64(float64(1.5*u(12))*amp) + float64((1+float64(4*u(13)))*sigma)
		v[n-3] += h
		v[n-2] += h
		v[n-1] += h
	}
	return v
}

// floorMod is x mod y with the sign of y (Python's %), for y > 0.
func floorMod(x, y int64) int64 {
	r := x % y
	if r < 0 {
		r += y
	}
	return r
}

// Generate writes the corpus file of p to w (header, then metric after
// metric, one Write per metric) and returns its digests. It holds one
// metric in memory, not the corpus. An invalid p returns an error wrapping
// ErrParams before anything is written.
func Generate(w io.Writer, p Params) (Sums, error) {
	if err := p.Validate(); err != nil {
		return Sums{}, fmt.Errorf("cannot generate: %w", err)
	}
	hv, hf := sha256.New(), sha256.New()
	hdr := p.AppendHeader(make([]byte, 0, HeaderSize))
	hf.Write(hdr)
	if _, err := w.Write(hdr); err != nil {
		return Sums{}, fmt.Errorf("cannot write header: %w", err)
	}
	v := make([]float64, p.Points)
	buf := make([]byte, 8*p.Points)
	for m := range p.Metrics {
		v = GenerateMetric(v, p, m)
		for i, x := range v {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
		}
		hv.Write(buf)
		hf.Write(buf)
		if _, err := w.Write(buf); err != nil {
			return Sums{}, fmt.Errorf("cannot write metric %d: %w", m, err)
		}
	}
	var s Sums
	hv.Sum(s.Values[:0])
	hf.Sum(s.File[:0])
	return s, nil
}
