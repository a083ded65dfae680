package webapp

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/go-kale/kale/internal/series"
)

// svgElement is a parsed SVG element: its name, attributes and text.
type svgElement struct {
	Name  string
	Attrs map[string]string
	Text  string
}

// parseSVG decodes b as XML (failing the test when it is not well formed)
// and returns its elements in document order.
func parseSVG(t *testing.T, b []byte) []svgElement {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []svgElement
	var stack []int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := svgElement{Name: tok.Name.Local, Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.Attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].Text += string(tok)
			}
		}
	}
	return out
}

func elements(es []svgElement, name, class string) []svgElement {
	var out []svgElement
	for _, e := range es {
		if e.Name == name && (class == "" || e.Attrs["class"] == class) {
			out = append(out, e)
		}
	}
	return out
}

func TestRenderGraph(t *testing.T) {
	const from, until = 1_700_000_000, 1_700_003_600
	var pts []series.Point
	for ts := int64(from); ts <= until; ts += 60 {
		if ts > from+1200 && ts < from+1800 { // a gap of 10 minutes
			continue
		}
		pts = append(pts, series.Point{Timestamp: ts, Value: 100 + float64(ts-from)/60})
	}
	hostile := `<script>alert("x")</script> & 'q' ` + "\x01\xff" + ` ünï`
	g := graph{Metric: hostile, Title: "last hour", From: from, Until: until, Points: pts,
		Anomalies: []int64{from + 600, from + 1500 /* in the gap */, from - 60 /* outside */}}
	b := renderGraph(g)
	es := parseSVG(t, b)
	if bytes.Contains(b, []byte("<script")) {
		t.Errorf("the metric name reached the SVG unescaped:\n%s", b)
	}
	title := elements(es, "title", "")
	if len(title) == 0 || !strings.Contains(title[0].Text, `<script>alert("x")</script> & 'q'`) {
		t.Errorf("title %+v: want the hostile name, escaped and read back", title)
	}
	path := elements(es, "path", "series")
	if len(path) != 1 {
		t.Fatalf("%d series paths, want 1", len(path))
	}
	if n := strings.Count(path[0].Attrs["d"], "M"); n != 2 {
		t.Errorf("the path has %d subpaths, want 2 (broken at the gap): %s", n, path[0].Attrs["d"])
	}
	if n := strings.Count(path[0].Attrs["d"], "L") + 2; n != len(pts) {
		t.Errorf("the path draws %d points, want %d", n, len(pts))
	}
	marks := elements(es, "circle", "anomaly")
	if len(marks) != 1 || marks[0].Attrs["data-t"] != "1700000600" || marks[0].Attrs["data-v"] != "110" {
		t.Errorf("anomaly markers %+v: want one, at 1700000600 = 110 (the others are in a gap or outside)", marks)
	}
	var drawn [][2]float64
	if err := json.Unmarshal([]byte(es[0].Attrs["data-points"]), &drawn); err != nil || len(drawn) != len(pts) {
		t.Errorf("data-points: %d points, %v; want %d", len(drawn), err, len(pts))
	}
	if ticks := elements(es, "line", "tick"); len(ticks) < 3 || len(ticks) > 7 {
		t.Errorf("%d time ticks on an hour, want 3 to 7", len(ticks))
	}
	if grid := elements(es, "line", "grid"); len(grid) < 3 {
		t.Errorf("%d value grid lines, want at least 3", len(grid))
	}
}

// A graph drawn at a box's width keeps its margins (so graphs of one
// window line up), draws no more than 3 points a unit, spaces its time
// labels for the width, and anchors a label at either end inside it.
func TestRenderGraphWidth(t *testing.T) {
	const from, until = 1_700_000_000, 1_700_086_400 // a day, 1,441 points
	var pts []series.Point
	for ts := int64(from); ts <= until; ts += 60 {
		pts = append(pts, series.Point{Timestamp: ts, Value: float64(ts % 7)})
	}
	for _, c := range []struct {
		width, maxTicks int
	}{{320, 2}, {800, 6}, {1600, 6}} {
		b := renderGraph(graph{Metric: "m", Title: "day", From: from, Until: until, Points: pts, Width: c.width})
		es := parseSVG(t, b)
		if vb := es[0].Attrs["viewBox"]; vb != "0 0 "+itoa(int64(c.width))+" 220" {
			t.Errorf("width %d: viewBox %q", c.width, vb)
		}
		if x0, x1 := es[0].Attrs["data-x0"], es[0].Attrs["data-x1"]; x0 != "64" || x1 != itoa(int64(c.width-12)) {
			t.Errorf("width %d: plot from %s to %s, want 64 to %d", c.width, x0, x1, c.width-12)
		}
		d := elements(es, "path", "series")[0].Attrs["d"]
		if n := strings.Count(d, "L") + strings.Count(d, "M"); n > 3*(c.width-76) || n < c.width-76 && n < len(pts) {
			t.Errorf("width %d: %d points drawn, want between %d and %d", c.width, n, min(c.width-76, len(pts)), 3*(c.width-76))
		}
		if ticks := elements(es, "line", "tick"); len(ticks) > c.maxTicks+1 || len(ticks) < 2 {
			t.Errorf("width %d: %d time ticks, want 2 to %d", c.width, len(ticks), c.maxTicks+1)
		}
	}
	// The hour's last tick (a multiple of 30 minutes) sits 6 s from the
	// right edge: its label ends there instead of being cut.
	const tick = 1_699_999_200
	b := renderGraph(graph{Metric: "m", From: tick - 3594, Until: tick + 6, Width: 400,
		Points: []series.Point{{Timestamp: tick, Value: 1}}})
	var anchored []string
	for _, e := range parseSVG(t, b) {
		if e.Name == "text" && e.Attrs["class"] != "" && e.Attrs["class"] != "title" && e.Attrs["class"] != "empty" {
			anchored = append(anchored, e.Attrs["class"]+" "+e.Text)
		}
	}
	if len(anchored) != 1 || !strings.HasPrefix(anchored[0], "end ") {
		t.Errorf("labels anchored inside: %q, want the last time label's only", anchored)
	}
}

func TestRenderGraphEmptyAndOdd(t *testing.T) {
	for name, pts := range map[string][]series.Point{
		"none":     nil,
		"one":      {{Timestamp: 1000, Value: 5}},
		"constant": {{Timestamp: 1000, Value: 5}, {Timestamp: 1060, Value: 5}},
		"nan+inf":  {{Timestamp: 1000, Value: math.NaN()}, {Timestamp: 1060, Value: math.Inf(1)}, {Timestamp: 1120, Value: 1}},
		"huge":     {{Timestamp: 1000, Value: -1e300}, {Timestamp: 1060, Value: 1e300}},
	} {
		b := renderGraph(graph{Metric: "m", Title: "t", From: 900, Until: 1200, Points: pts, Anomalies: []int64{1000}})
		es := parseSVG(t, b)
		if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
			t.Errorf("%s: NaN or Inf in the SVG:\n%s", name, b)
		}
		empty := elements(es, "text", "empty")
		if (len(empty) == 1) != (name == "none") {
			t.Errorf("%s: %d 'no data' notes", name, len(empty))
		}
	}
}

// A spike among many points survives the downsampling.
func TestDownsampleKeepsSpikes(t *testing.T) {
	var pts []series.Point
	for i := range 100_000 {
		v := 1.0
		if i == 54_321 {
			v = 1000
		}
		pts = append(pts, series.Point{Timestamp: int64(i), Value: v})
	}
	got := downsample(pts, 0, 99_999, 500)
	if len(got) > 1500 {
		t.Errorf("%d points kept, want at most 1500", len(got))
	}
	found := false
	for i, p := range got {
		found = found || p.Value == 1000
		if i > 0 && p.Timestamp <= got[i-1].Timestamp {
			t.Fatalf("not in time order at %d", i)
		}
	}
	if !found {
		t.Error("the spike was lost")
	}
}

// Ticks near the ends of int64 stop instead of wrapping around.
func TestTicksAtTheEndOfTime(t *testing.T) {
	for _, span := range []int64{3600, 86400, 90 * 86400} {
		ticks := timeTicks(math.MaxInt64-span, math.MaxInt64, 6)
		if len(ticks) == 0 || len(ticks) > 25 || ticks[len(ticks)-1] < ticks[0] {
			t.Errorf("span %d at the end of int64: %d ticks %v", span, len(ticks), ticks)
		}
	}
	if got := xmlText("evil\u202etxt.cpu\u2066"); got != "evil\ufffdtxt.cpu\ufffd" {
		t.Errorf("bidirectional controls kept: %q", got)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct{ lo, hi float64 }{{0, 1}, {-3, 7}, {1e6, 1.0004e6}, {0.001, 0.002}, {5, 5}} {
		ts := valueTicks(c.lo, c.hi, 5)
		if len(ts) < 2 || len(ts) > 20 || ts[0] > c.lo || ts[len(ts)-1] < c.hi {
			t.Errorf("valueTicks(%v, %v) = %v: want 2 to 20 round values covering the range", c.lo, c.hi, ts)
		}
	}
	for _, c := range []struct{ from, until int64 }{{0, 3600}, {0, 86400}, {17, 7 * 86400}} {
		ts := timeTicks(c.from, c.until, 6)
		if len(ts) < 2 || len(ts) > 7 {
			t.Errorf("timeTicks(%d, %d) = %v: want 2 to 7", c.from, c.until, ts)
		}
	}
	if got := formatValue(1500); got != "1500" {
		t.Errorf("formatValue(1500) = %q", got)
	}
	if got := formatValue(25000); got != "25k" {
		t.Errorf("formatValue(25000) = %q", got)
	}
}
