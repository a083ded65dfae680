package oculus

import (
	"math"

	"github.com/go-kale/kale/fingerprint"
	"github.com/go-kale/kale/internal/series"
)

// ScalePoints is the top of the scale every shape is compared on: each
// series is min-max scaled to [0, ScalePoints], as Oculus's scorers did
// (scale_points = 25), so distances do not depend on a metric's units.
const ScalePoints = fingerprint.Scale

// Window is the time range a shape describes: From <= t < Until, in UNIX
// seconds.
type Window struct {
	From  int64 `json:"from"`
	Until int64 `json:"until"`
}

// Valid reports whether the window is non-empty.
func (w Window) Valid() bool { return w.Until > w.From }

// Resample puts points (sorted by time) on the window's grid of n equal
// buckets: each bucket's value is the mean of its points; an empty bucket
// between two full ones is interpolated linearly, one before the first or
// after the last full bucket takes that bucket's value. It returns false
// (and dst unchanged in length) when fewer than minPoints points fall in the
// window. So a 10 s and a 60 s metric over the same hour become comparable
// series of n values.
func Resample(dst []float64, points []series.Point, w Window, n, minPoints int) ([]float64, bool) {
	if n <= 0 || !w.Valid() {
		return dst, false
	}
	dst = grow(dst, n)
	cnt := make([]int32, n) // small: n is Config.Points
	for i := range dst {
		dst[i] = 0
	}
	span := float64(w.Until) - float64(w.From) // in float64: no overflow whatever the window
	inWindow := 0
	for _, p := range points {
		if p.Timestamp < w.From || p.Timestamp >= w.Until {
			continue
		}
		b := min(max(int((float64(p.Timestamp)-float64(w.From))/span*float64(n)), 0), n-1)
		dst[b] += p.Value
		cnt[b]++
		inWindow++
	}
	if inWindow < max(minPoints, 1) {
		return dst[:0], false
	}
	prev := -1 // last full bucket
	for i := range n {
		if cnt[i] == 0 {
			continue
		}
		dst[i] /= float64(cnt[i])
		switch {
		case prev < 0:
			for j := range i { // leading gap takes the first value
				dst[j] = dst[i]
			}
		case i-prev > 1:
			for j := prev + 1; j < i; j++ {
				f := float64(j-prev) / float64(i-prev)
				dst[j] = dst[prev] + f*(dst[i]-dst[prev])
			}
		}
		prev = i
	}
	for j := prev + 1; j < n; j++ { // trailing gap takes the last value
		dst[j] = dst[prev]
	}
	return dst, true
}

// ScaleShape min-max scales values in place to [0, ScalePoints] and
// reports whether the series is flat (max = min, or nothing finite). A
// flat series becomes all zeros, which is where Oculus's scaling put it:
// nothing is divided by zero, and a flat line stays close to metrics that
// are flat but for a rare spike.
func ScaleShape(values []float64) (flat bool) {
	lo, hi := fingerprint.MinMax(values)
	flat = !(hi > lo)
	for i, v := range values {
		if flat || math.IsNaN(v) || math.IsInf(v, 0) {
			values[i] = 0
			continue
		}
		values[i] = ScalePoints * fingerprint.Unit(v, lo, hi)
	}
	return flat
}

// Shape turns a metric's points into its indexed document for window w:
// resampled to n points, fingerprinted (on the resampled values, so a
// metric's words do not depend on its resolution) and scaled. ok is false
// when the window holds fewer than minPoints points.
func Shape(metric string, points []series.Point, w Window, n, minPoints int, buf []float64) (Doc, []float64, bool) {
	buf, ok := Resample(buf, points, w, n, minPoints)
	if !ok {
		return Doc{}, buf, false
	}
	d := Doc{Metric: metric, Fingerprint: fingerprint.String(buf)}
	d.Flat = ScaleShape(buf)
	d.Values = make([]float32, n)
	for i, v := range buf {
		d.Values[i] = float32(v)
	}
	return d, buf, true
}

// ShapeOf scales free values (a drawn curve, or values given to
// POST /api/search) to a query of n points: resampled by linear
// interpolation when len(values) differs from n.
func ShapeOf(values []float64, n int) (Doc, error) {
	finite := 0
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite++
		}
	}
	if finite < 2 {
		return Doc{}, errTooFewValues
	}
	clean := make([]float64, 0, len(values))
	for _, v := range values { // a gap takes the value before it
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if len(clean) == 0 {
				continue
			}
			v = clean[len(clean)-1]
		}
		clean = append(clean, v)
	}
	r := interpolate(clean, n)
	d := Doc{Fingerprint: fingerprint.String(r)}
	d.Flat = ScaleShape(r)
	d.Values = make([]float32, n)
	for i, v := range r {
		d.Values[i] = float32(v)
	}
	return d, nil
}

// interpolate resamples v to n points by linear interpolation, end points
// kept.
func interpolate(v []float64, n int) []float64 {
	out := make([]float64, n)
	if len(v) == n {
		copy(out, v)
		return out
	}
	if n == 1 {
		out[0] = v[0]
		return out
	}
	for i := range n {
		x := float64(i) * float64(len(v)-1) / float64(n-1)
		j := min(int(x), len(v)-2)
		f := x - float64(j)
		out[i] = v[j] + f*(v[j+1]-v[j])
	}
	return out
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
