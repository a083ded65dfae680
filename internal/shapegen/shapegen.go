// Package shapegen generates the synthetic corpus that `kale bench oculus`
// and Oculus's end-to-end tests search: many unrelated metrics plus planted
// groups of related ones, each member a time-shifted, scaled, offset and
// noisy copy of its group's shape. The corpus is a pure function of its
// Spec (seeded), so figures can be reproduced.
package shapegen

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Spec describes a corpus.
type Spec struct {
	Metrics   int   // total metrics, planted members included
	Groups    int   // planted groups
	GroupSize int   // members per group
	Points    int   // points per metric
	Step      int64 // seconds between points
	End       int64 // timestamp of the last point
	Seed      uint64
	// MaxShift is the largest time shift of a member, in points.
	MaxShift int
	// Noise is the largest standard deviation of a member's noise, as a
	// fraction of its shape's range (each member draws its own up to it).
	Noise float64
}

// DefaultSpec plants 1 % of n metrics as groups of 10, over an hour at
// 30 s, members shifted by up to 3 points with noise up to 5 % of range.
func DefaultSpec(n int) Spec {
	return Spec{Metrics: n, Groups: max(1, n/1000), GroupSize: 10, Points: 120, Step: 30,
		Seed: 1, MaxShift: 3, Noise: 0.05}
}

// Validate reports a spec that cannot be generated.
func (s Spec) Validate() error {
	switch {
	case s.Metrics < 1 || s.Points < 2 || s.Step < 1:
		return fmt.Errorf("shapegen: need metrics >= 1, points >= 2, step >= 1")
	case s.Groups < 0 || s.GroupSize < 2 && s.Groups > 0:
		return fmt.Errorf("shapegen: groups need at least 2 members")
	case s.Groups*s.GroupSize > s.Metrics:
		return fmt.Errorf("shapegen: %d groups of %d do not fit in %d metrics", s.Groups, s.GroupSize, s.Metrics)
	}
	return nil
}

// Metric is one generated series.
type Metric struct {
	Name   string
	Group  int // planted group, or -1
	Values []float64
}

// Name of metric i: planted members are "group.G.mM", the others
// "noise.KIND.I", so a reader of results can tell them apart.
func (s Spec) name(i int) (string, int) {
	if g := i / s.GroupSize; s.GroupSize > 0 && g < s.Groups {
		return fmt.Sprintf("planted.g%05d.m%02d", g, i%s.GroupSize), g
	}
	return fmt.Sprintf("other.%s.n%07d", kinds[i%len(kinds)], i), -1
}

var kinds = []string{"walk", "smooth", "sine", "steps", "spiky", "noise"}

// Each calls fn for every metric in order; Values is reused between calls.
func (s Spec) Each(fn func(i int, m Metric) error) error {
	if err := s.Validate(); err != nil {
		return err
	}
	n := s.Points
	shape := make([]float64, n+2*s.MaxShift)
	vals := make([]float64, n)
	shaped := -1 // the group whose shape is in shape: members are consecutive
	for i := range s.Metrics {
		name, g := s.name(i)
		if g >= 0 {
			if g != shaped { // the group's shape, seeded by the group
				base(rand.New(rand.NewPCG(s.Seed, uint64(g)<<1)), shape, g)
				shaped = g
			}
			r := rand.New(rand.NewPCG(s.Seed, uint64(i)<<1|1))
			shift := 0
			if s.MaxShift > 0 {
				shift = r.IntN(2*s.MaxShift + 1)
			}
			lo, hi := minmax(shape)
			scale := math.Exp(r.Float64() * math.Log(100))
			offset := (r.Float64()*2 - 1) * 1000
			sigma := r.Float64() * s.Noise * (hi - lo)
			for j := range vals {
				vals[j] = offset + scale*(shape[j+shift]+sigma*r.NormFloat64())
			}
		} else {
			r := rand.New(rand.NewPCG(s.Seed, uint64(i)<<1|1))
			other(r, vals, i%len(kinds))
		}
		if err := fn(i, Metric{Name: name, Group: g, Values: vals}); err != nil {
			return err
		}
	}
	return nil
}

// base draws a group's shape: an incident-like mix of a walk, a step or
// spike, a ramp and a wave, so groups differ from each other and from the
// unrelated metrics.
func base(r *rand.Rand, v []float64, g int) {
	n := len(v)
	x := 0.0
	for i := range v {
		x += r.NormFloat64()
		v[i] = x
	}
	lo, hi := minmax(v)
	amp := max(hi-lo, 1)
	switch g % 4 {
	case 0: // a step
		at := n/4 + r.IntN(n/2)
		for i := at; i < n; i++ {
			v[i] += amp * (0.5 + r.Float64())
		}
	case 1: // a spike of a few points
		at := r.IntN(n - 5)
		w := 1 + r.IntN(4)
		for i := at; i < at+w; i++ {
			v[i] += amp * (1 + r.Float64())
		}
	case 2: // a wave
		p := float64(n) / (1 + 3*r.Float64())
		ph := r.Float64() * 2 * math.Pi
		for i := range v {
			v[i] += amp * math.Sin(2*math.Pi*float64(i)/p+ph)
		}
	case 3: // a ramp up then down
		at := n/4 + r.IntN(n/2)
		for i := range v {
			d := float64(min(i, at)) - float64(max(0, i-at))
			v[i] += amp * d / float64(n) * 2
		}
	}
}

// other draws an unrelated metric of the given kind.
func other(r *rand.Rand, v []float64, kind int) {
	n := len(v)
	level := r.Float64() * 1000
	switch kinds[kind] {
	case "walk":
		x := level
		for i := range v {
			x += r.NormFloat64()
			v[i] = x
		}
	case "smooth":
		x, d := level, 0.0
		for i := range v {
			d = 0.9*d + r.NormFloat64()
			x += d
			v[i] = x
		}
	case "sine":
		p := float64(n) / (0.5 + 4*r.Float64())
		ph := r.Float64() * 2 * math.Pi
		for i := range v {
			v[i] = level + 10*math.Sin(2*math.Pi*float64(i)/p+ph) + r.NormFloat64()
		}
	case "steps":
		x := level
		for i := range v {
			if r.IntN(20) == 0 {
				x += r.NormFloat64() * 20
			}
			v[i] = x + r.NormFloat64()*0.5
		}
	case "spiky":
		for i := range v {
			v[i] = level + r.ExpFloat64()
			if r.IntN(30) == 0 {
				v[i] += 20 * r.Float64()
			}
		}
	default:
		for i := range v {
			v[i] = level + r.NormFloat64()
		}
	}
}

func minmax(v []float64) (lo, hi float64) {
	lo, hi = v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
