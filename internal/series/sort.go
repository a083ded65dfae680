package series

import (
	"cmp"
	"slices"
)

// SortDedup puts pts in time order, in place, keeping of each timestamp the
// point that came last in pts: the store's last-write-wins rule. It returns
// the result, whether pts was already strictly increasing (then out is pts,
// untouched), and how many points it dropped.
func SortDedup(pts []Point) (out []Point, sorted bool, dropped int) {
	sorted = true
	for i := 1; i < len(pts); i++ {
		if pts[i].Timestamp <= pts[i-1].Timestamp {
			sorted = false
			break
		}
	}
	if sorted {
		return pts, true, 0
	}
	slices.SortStableFunc(pts, func(a, b Point) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	out = pts[:0]
	for i := range pts {
		if len(out) > 0 && out[len(out)-1].Timestamp == pts[i].Timestamp {
			out[len(out)-1] = pts[i] // the stable sort kept arrival order: pts[i] came later
			continue
		}
		out = append(out, pts[i])
	}
	return out, false, len(pts) - len(out)
}
