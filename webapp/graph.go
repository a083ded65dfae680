package webapp

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-kale/kale/internal/series"
)

// Graph sizes, in SVG user units. The page asks for graphs as wide as
// their box in CSS pixels (width=), so that a unit is a pixel and the
// labels keep their size on a laptop and on a phone. Every graph has the
// same left and right margins, so graphs of one window drawn one above
// the other share their time axis.
const (
	defaultGraphWidth = 800
	minGraphWidth     = 240
	maxGraphWidth     = 2400
	graphLeft         = 64 // room for the value labels
	graphRight        = 12
	graphBottom       = 22 // room for the time labels
	markerRadius      = 4
	timeLabelSpacing  = 110 // units per time tick at least
)

// graphSize is the height, the room above the plot and the tick counts
// of a full or a small graph. The small ones (correlated metrics, search
// results, a collection's members) have their name beside them on the
// page, so they draw no title.
type graphSize struct {
	Height, Top, ValueTicks, TimeTicks int
	Untitled                           bool
}

var (
	fullGraph  = graphSize{Height: 220, Top: 22, ValueTicks: 5, TimeTicks: 6}
	smallGraph = graphSize{Height: 96, Top: 8, ValueTicks: 2, TimeTicks: 6, Untitled: true}
)

// graph is what renderGraph draws: a metric's points over [From, Until]
// (UNIX s), with the anomalous timestamps marked.
type graph struct {
	Metric    string
	Title     string // e.g. "last hour"
	From      int64
	Until     int64
	Points    []series.Point // sorted by time
	Anomalies []int64        // timestamps of anomalous points
	Size      graphSize      // zero: fullGraph
	Width     int            // zero: defaultGraphWidth
}

// renderGraph writes g as a standalone SVG: time axis (UTC) and value
// axis with round ticks, the series as a path broken at gaps, every
// anomalous point as a red circle with a tooltip, and the drawn points in
// data-points ([[t, v], ...]) for the page's hover read-out. Every string
// from the network (the metric name) is escaped; the output is valid XML
// whatever the name holds. A window without points says so.
func renderGraph(g graph) []byte {
	var b bytes.Buffer
	size := g.Size
	if size.Height == 0 {
		size = fullGraph
	}
	width := g.Width
	if width == 0 {
		width = defaultGraphWidth
	}
	w, h := float64(width), float64(size.Height)
	x0, x1 := float64(graphLeft), w-graphRight
	y0, y1 := h-graphBottom, float64(size.Top)                               // y0 is the bottom
	pts := downsample(g.Points, g.From, g.Until, width-graphLeft-graphRight) // at most 3 points a unit

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = min(lo, p.Value), max(hi, p.Value)
	}
	if len(pts) == 0 {
		lo, hi = 0, 1
	}
	vt := valueTicks(lo, hi, size.ValueTicks)
	if len(vt) > 0 {
		lo, hi = min(lo, vt[0]), max(hi, vt[len(vt)-1])
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	span := float64(max(g.Until-g.From, 1))
	xOf := func(t int64) float64 { return x0 + (x1-x0)*float64(t-g.From)/span }
	yOf := func(v float64) float64 { return y0 - (y0-y1)*(v-lo)/(hi-lo) }

	name := xmlText(g.Metric)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 %d %d" role="img" aria-label="%s, %s"`,
		width, size.Height, name, xmlText(g.Title))
	fmt.Fprintf(&b, ` data-from="%d" data-until="%d" data-x0="%g" data-x1="%g" data-lo="%g" data-hi="%g" data-y0="%g" data-y1="%g" data-points="`,
		g.From, g.Until, x0, x1, lo, hi, y0, y1)
	writePointsJSON(&b, pts)
	b.WriteString(`">`)
	fmt.Fprintf(&b, `<title>%s, %s</title>`, name, xmlText(g.Title))
	if !size.Untitled {
		fmt.Fprintf(&b, `<text class="title" x="%g" y="15">%s <tspan class="range">%s</tspan></text>`, x0, name, xmlText(g.Title))
	}

	// Axes and grid.
	b.WriteString(`<g class="axis value">`)
	for _, v := range vt {
		y := yOf(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/><text x="%g" y="%.1f">%s</text>`,
			x0, x1, y, y, x0-6, y+4, xmlText(formatValue(v)))
	}
	b.WriteString(`</g><g class="axis time">`)
	for _, t := range timeTicks(g.From, g.Until, min(size.TimeTicks, max(2, int(x1-x0)/timeLabelSpacing))) {
		x := xOf(t)
		// A label near an end is anchored inside the graph, not cut.
		anchor := ""
		switch {
		case x > w-24:
			anchor = ` class="end"`
		case x < 24:
			anchor = ` class="start"`
		}
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" x2="%.1f" y1="%g" y2="%g"/><text x="%.1f" y="%g"%s>%s</text>`,
			x, x, y0, y0+4, x, y0+16, anchor, timeLabel(t, g.Until-g.From))
	}
	fmt.Fprintf(&b, `</g><line class="frame" x1="%g" x2="%g" y1="%g" y2="%g"/>`, x0, x1, y0, y0)

	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%g" y="%g">no data in this window</text></svg>`, (x0+x1)/2, (y0+y1)/2)
		return b.Bytes()
	}
	// The series: a new subpath after a gap of more than 3 typical steps.
	gap := 3 * typicalStep(pts)
	b.WriteString(`<path class="series" d="`)
	for i, p := range pts {
		cmd := byte('L')
		if i == 0 || p.Timestamp-pts[i-1].Timestamp > gap {
			cmd = 'M'
		}
		fmt.Fprintf(&b, "%c%.1f %.1f", cmd, xOf(p.Timestamp), yOf(p.Value))
	}
	b.WriteString(`"/>`)
	// A lone point between gaps draws nothing as a path: mark it.
	for i, p := range pts {
		if (i == 0 || p.Timestamp-pts[i-1].Timestamp > gap) && (i == len(pts)-1 || pts[i+1].Timestamp-p.Timestamp > gap) {
			fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="1.5"/>`, xOf(p.Timestamp), yOf(p.Value))
		}
	}
	// The anomalous points, at their recorded values.
	b.WriteString(`<g class="anomalies">`)
	for _, t := range g.Anomalies {
		if t < g.From || t > g.Until {
			continue
		}
		v, ok := valueAt(g.Points, t)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, `<circle class="anomaly" cx="%.1f" cy="%.1f" r="%d" data-t="%d" data-v="%s"><title>anomalous: %s at %s</title></circle>`,
			xOf(t), yOf(v), markerRadius, t, strconv.FormatFloat(v, 'g', -1, 64),
			xmlText(formatValue(v)), time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	b.WriteString(`</g></svg>`)
	return b.Bytes()
}

// downsample keeps the points in [from, until] and, when there are more
// than buckets*2, the first, the least and the greatest of each of
// buckets equal time buckets (in time order), so that a spike is never
// lost to the drawing.
func downsample(pts []series.Point, from, until int64, buckets int) []series.Point {
	var in []series.Point
	for _, p := range pts {
		if p.Timestamp >= from && p.Timestamp <= until && !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
			in = append(in, p)
		}
	}
	if len(in) <= 2*buckets || buckets < 1 {
		return in
	}
	out := make([]series.Point, 0, 3*buckets)
	span := float64(until-from) + 1
	for i := 0; i < len(in); {
		k := int(float64(in[i].Timestamp-from) / span * float64(buckets))
		j := i
		lo, hi := i, i
		for j < len(in) && int(float64(in[j].Timestamp-from)/span*float64(buckets)) == k {
			if in[j].Value < in[lo].Value {
				lo = j
			}
			if in[j].Value > in[hi].Value {
				hi = j
			}
			j++
		}
		keep := [3]int{i, lo, hi}
		slices.Sort(keep[:])
		for _, idx := range slices.Compact(keep[:]) {
			out = append(out, in[idx])
		}
		i = j
	}
	return out
}

// typicalStep is the median interval between consecutive points (1 when
// there are fewer than two).
func typicalStep(pts []series.Point) int64 {
	if len(pts) < 2 {
		return 1
	}
	d := make([]int64, len(pts)-1)
	for i := range d {
		d[i] = pts[i+1].Timestamp - pts[i].Timestamp
	}
	slices.Sort(d)
	return max(d[len(d)/2], 1)
}

// valueAt is the value of the point at timestamp t.
func valueAt(pts []series.Point, t int64) (float64, bool) {
	i, found := slices.BinarySearchFunc(pts, t, func(p series.Point, t int64) int { return cmp.Compare(p.Timestamp, t) })
	if found && !math.IsNaN(pts[i].Value) && !math.IsInf(pts[i].Value, 0) {
		return pts[i].Value, true
	}
	return 0, false
}

// writePointsJSON writes pts as [[t,v],...], which needs no escaping in
// an attribute (digits, signs, dots, 'e', brackets and commas).
func writePointsJSON(b *bytes.Buffer, pts []series.Point) {
	b.WriteByte('[')
	var buf [32]byte
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		b.Write(strconv.AppendInt(buf[:0], p.Timestamp, 10))
		b.WriteByte(',')
		b.Write(strconv.AppendFloat(buf[:0], p.Value, 'g', 6, 64))
		b.WriteByte(']')
	}
	b.WriteByte(']')
}

// xmlText makes s safe as XML character data or a quoted attribute:
// invalid UTF-8, the control characters XML 1.0 forbids and the
// bidirectional format characters (which would let one name pass for
// another: "evil\u202etxt.cpu" reads "evilupc.txt") are replaced by
// U+FFFD, then <, >, &, ' and " are escaped.
func xmlText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF || unicode.Is(unicode.Bidi_Control, r) {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

// valueTicks returns about n round values (1, 2 or 5 times a power of
// ten apart) covering [lo, hi].
func valueTicks(lo, hi float64, n int) []float64 {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	if hi == lo {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if step == 0 || math.IsInf(step, 0) || math.IsNaN(step) {
		return nil
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step/2 && len(out) < 4*n; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// formatValue prints a tick or a value compactly: 1.5k, 2M, 0.25, 3e-07.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e15 || (a > 0 && a < 1e-3):
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1e12:
		return strconv.FormatFloat(v/1e12, 'f', -1, 64) + "T"
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', -1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// tickSteps are the time-axis spacings, in seconds.
var tickSteps = []int64{60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800}

// timeTicks returns about n round times (multiples of a step from
// tickSteps, in UTC) within [from, until].
func timeTicks(from, until int64, n int) []int64 {
	span := until - from
	if span <= 0 {
		return nil
	}
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= int64(n) {
			step = s
			break
		}
	}
	var out []int64
	for t := (from + step - 1) / step * step; t <= until && len(out) <= 4*n; t += step {
		out = append(out, t)
		if t > until-step { // the next would pass until, or overflow
			break
		}
	}
	return out
}

// timeLabel formats a tick: the time of day (UTC) for spans up to two
// days, else the date.
func timeLabel(t, span int64) string {
	u := time.Unix(t, 0).UTC()
	if span > 2*86400 {
		return u.Format("Jan 2")
	}
	if u.Hour() == 0 && u.Minute() == 0 && span > 6*3600 {
		return u.Format("Jan 2")
	}
	return u.Format("15:04")
}
