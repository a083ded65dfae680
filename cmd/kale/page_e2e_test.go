package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/testserver"
)

// The metrics of the page's end-to-end test. Each named one has a spike as
// its newest point, which the analyzer records; partner is spiky * 3 + 7
// with a little noise, the planted partner of the correlation steps.
const (
	pageSpiky   = "e2e.page.spiky"
	pageOther   = "e2e.page.other"
	pagePartner = "e2e.page.partner"
	pageHostile = `e2e.page.<script>alert(1)</script>"'é`
)

// The web page, in headless Chromium, against `kale run` fed through
// Horizon (pickle): the anomaly list, both graphs drawn from the real
// points with the recorded anomaly marked, hover and arrow keys switching
// the graphs, the hover read-out, screenshots at desktop and phone widths,
// a hostile metric name shown as text with nothing executed, an alert's
// link to a metric outside the list, the correlated metrics of a click
// (the planted partner first, on one time axis) added to a new and then
// an existing collection, collections made, reopened and deleted, a
// metric's page with its past anomaly and what moved with it, and search
// by name and by a drawn curve.
//
// The steps run in order on one kale and one browser (startPageE2E); each
// opens the page itself, so a step can be added, or run alone with
// -run 'TestPageEndToEnd/^name$', without depending on the one before.
func TestPageEndToEnd(t *testing.T) {
	t.Parallel()
	e := startPageE2E(t)

	t.Run("list", func(t *testing.T) {
		e.open(t, "")
		rows := e.rows(t)
		for _, want := range []string{pageSpiky, pageOther, pageHostile} {
			if !slices.Contains(rows, want) {
				t.Errorf("the list lacks a row for %q: %q", want, rows)
			}
		}
		// Without ?metric= the first row is selected and drawn.
		sel := testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`)
		if sel != rows[0] {
			t.Errorf("selected row %q, want the first, %q", sel, rows[0])
		}
		e.waitGraphs(t, rows[0])
	})

	t.Run("graphs", func(t *testing.T) {
		e.open(t, pageSpiky)
		e.checkGraphs(t, pageSpiky)
	})

	t.Run("hover", func(t *testing.T) {
		e.open(t, pageSpiky)
		e.hoverRow(t, pageOther)
		e.waitGraphs(t, pageOther)
		e.checkGraphs(t, pageOther)
		if sel := testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`); sel != pageOther {
			t.Errorf("after hovering %s the selected row is %q", pageOther, sel)
		}
		if name := testserver.Eval[string](t, e.ctx, `document.getElementById("selected-name").textContent`); name != pageOther {
			t.Errorf("after hovering %s the graphs' heading is %q", pageOther, name)
		}
		if q := testserver.Eval[string](t, e.ctx, `new URL(location.href).searchParams.get("metric")`); q != pageOther {
			t.Errorf("after hovering %s the address says metric=%q", pageOther, q)
		}
		e.mouseAway(t)
	})

	t.Run("keys", func(t *testing.T) {
		e.open(t, pageSpiky)
		rows := e.rows(t)
		i := slices.Index(rows, pageSpiky)
		if i < 0 || i+1 >= len(rows) {
			t.Fatalf("%s is not followed by another row: %q", pageSpiky, rows)
		}
		e.key(t, kb.ArrowDown)
		e.waitGraphs(t, rows[i+1])
		if sel := testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`); sel != rows[i+1] {
			t.Errorf("after ArrowDown the selected row is %q, want %q", sel, rows[i+1])
		}
		e.key(t, kb.ArrowUp)
		e.waitGraphs(t, pageSpiky)
	})

	t.Run("readout", func(t *testing.T) {
		e.open(t, pageSpiky)
		e.checkReadout(t, pageSpiky)
		testserver.Screenshot(t, e.ctx, "readout-1400x900")
		e.mouseAway(t)
	})

	t.Run("screenshots", func(t *testing.T) {
		e.open(t, pageSpiky)
		testserver.Screenshot(t, e.ctx, "page-1400x900")
		e.do(t, "cannot emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		defer func() {
			if err := chromedp.Do(e.ctx, chromedp.EmulateViewport(testserver.ChromiumWidth, testserver.ChromiumHeight)); err != nil {
				t.Errorf("cannot restore the viewport: %v", err)
			}
		}()
		e.open(t, pageSpiky)
		testserver.Screenshot(t, e.ctx, "page-390x844")
		// The list may scroll sideways in its own pane; the page must not.
		if w := testserver.Eval[int](t, e.ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("at 390 px wide the page is %d px wide: it scrolls sideways", w)
		}
	})

	t.Run("hostile", func(t *testing.T) {
		e.open(t, pageHostile)
		if rows := e.rows(t); !slices.Contains(rows, pageHostile) {
			t.Errorf("the list lacks %q as text: %q", pageHostile, rows)
		}
		if name := testserver.Eval[string](t, e.ctx, `document.getElementById("selected-name").textContent`); name != pageHostile {
			t.Errorf("the graphs' heading is %q, want %q", name, pageHostile)
		}
		e.checkGraphs(t, pageHostile)
		e.checkNothingRan(t)
	})

	t.Run("alert link", func(t *testing.T) {
		// An alert's link names a metric that has no anomaly in the list's
		// window: the page shows it anyway, says so, and keeps the link.
		var names struct{ Metrics []string }
		getJSON(t, e.base+"/api/metrics?prefix=other.&limit=50", &names)
		listed := map[string]bool{}
		for _, a := range e.k.anomalies(t) {
			listed[a.Metric] = true
		}
		quiet := ""
		for _, n := range names.Metrics {
			if !listed[n] {
				quiet = n
				break
			}
		}
		if quiet == "" {
			t.Fatalf("every one of %q is anomalous", names.Metrics)
		}
		e.open(t, quiet)
		if got := testserver.Eval[string](t, e.ctx, `document.getElementById("selected-name").textContent + "|" +
			document.getElementById("selected-note").hidden + "|" + new URL(location.href).searchParams.get("metric") + "|" +
			document.querySelectorAll("#anomalies tbody tr.selected").length`); got != quiet+"|false|"+quiet+"|0" {
			t.Errorf("opened with ?metric=%s: heading|note hidden|address|selected rows = %q", quiet, got)
		}
		// The mouse resting on the list: a move the browser reports at the
		// same place (as after the arrow keys scroll the list) selects
		// nothing; the keys keep their row.
		e.open(t, pageSpiky)
		xy := e.hoverRow(t, pageSpiky)
		e.key(t, kb.ArrowDown)
		next := testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`)
		if next == pageSpiky {
			t.Fatalf("ArrowDown did not move from %s", pageSpiky)
		}
		e.mouse(t, xy[0], xy[1]) // where the mouse already is
		if sel := testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`); sel != next {
			t.Errorf("a mouse event where the mouse already was selected %q; want the keys' %q", sel, next)
		}
		e.mouseAway(t)
	})

	t.Run("correlated", func(t *testing.T) {
		e.waitOculus(t)
		e.open(t, pageSpiky)
		e.clickRow(t, pageSpiky)
		testserver.WaitJS(t, e.ctx, "the correlated metrics of "+pageSpiky, e2eStepTimeout,
			`document.querySelectorAll("#correlated .card.match svg.graph").length >= 3`)
		cards := e.cards(t, "#correlated")
		if len(cards) < 4 || cards[0].Metric != pageSpiky || !cards[0].Reference {
			t.Fatalf("correlated cards %+v: want %s first, as the reference, then matches", cards, pageSpiky)
		}
		if cards[1].Metric != pagePartner {
			t.Errorf("the best match is %q, want the planted partner %s", cards[1].Metric, pagePartner)
		}
		e.checkCards(t, cards)
		testserver.Screenshot(t, e.ctx, "correlated-1400x900")

		// Add the partner to a new collection named with hostile characters.
		name := `E2E incident <b>"one"</b>`
		e.click(t, `#correlated .card.match[data-metric=`+jsString(pagePartner)+`] input.pick`)
		e.setValue(t, "#correlated .collection-bar .new-name", name)
		e.click(t, "#correlated .collection-bar button")
		testserver.WaitJS(t, e.ctx, "the collection saved", e2eStepTimeout,
			`document.querySelector("#correlated .collection-bar .bar-status a") !== null`)
		link := testserver.Eval[string](t, e.ctx, `document.querySelector("#correlated .collection-bar .bar-status a").getAttribute("href")`)

		// Reopen it from the collections page.
		e.navigate(t, "/collections")
		testserver.WaitJS(t, e.ctx, "the collections listed", e2eStepTimeout, `document.querySelectorAll("#collections tbody tr").length > 0`)
		names := testserver.Eval[[]string](t, e.ctx, `Array.from(document.querySelectorAll("#collections tbody td:first-child a"), (a) => a.textContent)`)
		if !slices.Contains(names, name) {
			t.Fatalf("the collections page lists %q, want %q", names, name)
		}
		e.click(t, `#collections tbody a[href=`+jsString(link)+`]`)
		e.waitMembers(t, name, []string{pagePartner})

		// Add one more from the correlated metrics, into the same collection.
		e.open(t, pageSpiky)
		e.clickRow(t, pageSpiky)
		testserver.WaitJS(t, e.ctx, "the correlated metrics and the collections to add to", e2eStepTimeout,
			`document.querySelectorAll("#correlated .card.match").length >= 3 && document.querySelectorAll("#correlated .collection-bar option").length >= 2`)
		e.click(t, `#correlated .card.match[data-metric=`+jsString(pageOther)+`] input.pick`)
		id := strings.TrimPrefix(link, "/collections/")
		e.setValue(t, "#correlated .collection-bar select", id)
		e.click(t, "#correlated .collection-bar button")
		testserver.WaitJS(t, e.ctx, "the collection saved", e2eStepTimeout,
			`document.querySelector("#correlated .collection-bar .bar-status a") !== null`)
		e.navigate(t, link)
		e.waitMembers(t, name, []string{pagePartner, pageOther})
		e.mouseAway(t)
		testserver.Screenshot(t, e.ctx, "collection-1400x900")
	})

	t.Run("collections", func(t *testing.T) {
		// Created from the form, with a description, then opened again.
		e.navigate(t, "/collections")
		e.setValue(t, "#c-name", "E2E from the form")
		e.setValue(t, "#c-description", "spiky and other\nwent up together")
		e.setValue(t, "#c-metrics", pageSpiky+"\n"+pageOther)
		e.click(t, "#create-form button")
		e.waitMembers(t, "E2E from the form", []string{pageSpiky, pageOther})
		if d := testserver.Eval[string](t, e.ctx, `document.getElementById("c-description").textContent`); d != "spiky and other\nwent up together" {
			t.Errorf("the description reads %q", d)
		}
		u := testserver.Eval[string](t, e.ctx, `location.pathname`)
		e.navigate(t, u)
		e.waitMembers(t, "E2E from the form", []string{pageSpiky, pageOther})

		// Deleted (the page asks first: say yes), it is gone from the list.
		testserver.Eval[bool](t, e.ctx, `(window.confirm = () => true, true)`)
		e.click(t, "#delete")
		testserver.WaitJS(t, e.ctx, "the collections page after the deletion", e2eStepTimeout,
			`location.pathname === "/collections" && document.getElementById("empty") !== null &&
			 (document.querySelectorAll("#collections tbody tr").length > 0 || !document.getElementById("empty").hidden)`)
		if names := testserver.Eval[[]string](t, e.ctx, `Array.from(document.querySelectorAll("#collections tbody td:first-child a"), (a) => a.textContent)`); slices.Contains(names, "E2E from the form") {
			t.Errorf("the deleted collection is still listed: %q", names)
		}
	})

	t.Run("metric page", func(t *testing.T) {
		e.waitOculus(t)
		e.navigate(t, "/metric?name="+url.QueryEscape(pageSpiky))
		testserver.WaitJS(t, e.ctx, "the metric's graph and past anomalies", e2eStepTimeout,
			`document.querySelector("#graph svg.graph path.series") !== null && document.querySelectorAll("#past tbody tr").length > 0`)
		spike := e.sent[pageSpiky][len(e.sent[pageSpiky])-1]
		first := testserver.Eval[string](t, e.ctx, `document.querySelector("#past tbody tr td").textContent`)
		if want := time.Unix(spike.Timestamp, 0).UTC().Format(time.DateTime); first != want {
			t.Errorf("the newest past anomaly is at %q, want the spike's %s", first, want)
		}
		// A past anomaly: its two hours, and what moved with it up to and
		// including it (the partner, which spiked with it).
		e.click(t, "#past tbody tr")
		testserver.WaitJS(t, e.ctx, "the graph around the anomaly and the correlated metrics", e2eStepTimeout,
			`+document.querySelector("#graph svg.graph")?.dataset.from === `+strconv.FormatInt(spike.Timestamp-3600, 10)+` &&
			 document.querySelectorAll("#correlated .card.match").length > 0`)
		cards := e.cards(t, "#correlated")
		if len(cards) < 2 || cards[1].Metric != pagePartner {
			t.Errorf("what moved with %s's past anomaly: %+v; want %s first", pageSpiky, cards, pagePartner)
		}
		testserver.Screenshot(t, e.ctx, "metric-1400x900")
	})

	t.Run("search", func(t *testing.T) {
		e.waitOculus(t)
		// By name, with completion.
		e.navigate(t, "/search")
		e.do(t, "cannot type into #name", chromedp.SendKeys("#name", "page.sp"))
		testserver.WaitJS(t, e.ctx, "the completion of page.sp", e2eStepTimeout,
			`Array.from(document.querySelectorAll("#name-suggestions option"), (o) => o.value).includes(`+jsString(pageSpiky)+`)`)
		e.click(t, `#name-form button`)
		testserver.WaitJS(t, e.ctx, "the graph of "+pageSpiky, e2eStepTimeout,
			`document.querySelector("#name-results .card[data-metric=`+strings.ReplaceAll(jsString(pageSpiky), `"`, `\"`)+`] svg.graph path.series") !== null`)

		// By shape: a flat line that jumps up at the very end, as spiky does.
		r := testserver.Eval[[4]float64](t, e.ctx, `(() => { const b = document.getElementById("draw").getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; })()`)
		x0, y0, w, h := r[0], r[1], r[2], r[3]
		actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0+4, y0+0.85*h, chromedp.ButtonLeft)}
		for i := 0; i <= 60; i++ {
			y := y0 + 0.85*h
			if i == 60 {
				y = y0 + 0.05*h
			}
			actions = append(actions, chromedp.MouseEvent(chromedp.MouseMoved, x0+4+(w-8)*float64(i)/60, y, chromedp.ButtonLeft))
		}
		actions = append(actions, chromedp.MouseEvent(chromedp.MouseReleased, x0+w-4, y0+0.05*h, chromedp.ButtonLeft))
		e.do(t, "cannot draw the curve", actions...)
		e.click(t, "#draw-search")
		testserver.WaitJS(t, e.ctx, "the metrics shaped like the drawn curve", e2eStepTimeout,
			`document.querySelectorAll("#shape-results .card.match svg.graph").length >= 3`)
		cards := e.cards(t, "#shape-results")
		var top []string
		for _, c := range cards[:min(4, len(cards))] {
			top = append(top, c.Metric)
		}
		for _, want := range []string{pageSpiky, pagePartner} {
			if !slices.Contains(top, want) {
				t.Errorf("the 4 closest to a flat line with a jump at the end are %q, want %s among them", top, want)
			}
		}
		e.checkCards(t, cards)
		e.mouseAway(t)
		testserver.Screenshot(t, e.ctx, "search-1400x900")
	})

	// Keep this step last: it checks what the page reported in every step.
	t.Run("console", func(t *testing.T) {
		for _, m := range e.browser.Console() {
			if m.IsException() || m.Source == "security" {
				t.Errorf("the page reported: %s (%s:%d)", m, m.URL, m.Line+1)
			}
		}
	})
}

// pageE2E is a `kale run` fed with the page's test data, and a browser.
type pageE2E struct {
	k       *kaleProc
	browser *testserver.Chromium
	ctx     context.Context // the browser's tab
	base    string          // "http://127.0.0.1:PORT"
	// sent holds every point sent of the named metrics, in time order.
	sent map[string][]series.Point
}

// startPageE2E starts kale run (analyzer every 200 ms, Oculus every 500 ms,
// no age filter), feeds it through Horizon and waits until the analyzer has
// recorded the spikes of spiky, other and the hostile name, then starts the
// browser with hooks that record any alert, confirm or prompt call and any
// Content-Security-Policy violation (window.__kaleE2E).
//
// The data, with t0 the start: 300 background metrics of a shapegen corpus
// (120 points at 30 s, the newest at t0-300); spiky, a sine wave with
// noise, and partner = spiky*3+7 with a little noise (300 points at 60 s,
// the newest, a spike, at t0-120); other, a rising ramp with noise (newest,
// a spike, at t0-180); the hostile name, noise around 100 (newest, a
// spike, at t0-240). The list is newest first: partner and spiky, other,
// the hostile one, then any background metric the analyzer flags.
func startPageE2E(t *testing.T) *pageE2E {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "kale.yaml")
	if err := os.WriteFile(cfgFile, []byte("analyzer:\n  interval: 200ms\n"+
		"oculus:\n  interval: 500ms\n"+
		// The 5 hours of history are older than Skyline's MAX_RESOLUTION.
		"horizon:\n  filters:\n    max_age: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := startKaleEnv(t, nil, "--data-dir", t.TempDir(), "--config", cfgFile)
	e := &pageE2E{k: k, base: "http://" + k.http, sent: map[string][]series.Point{}}

	t0 := time.Now().Unix()
	spec := shapegen.DefaultSpec(300)
	spec.End = t0 - 300
	var samples []series.Sample
	if err := spec.Each(func(i int, m shapegen.Metric) error {
		for j, v := range m.Values {
			samples = append(samples, series.Sample{Name: m.Name,
				Point: series.Point{Timestamp: spec.End - int64(len(m.Values)-1-j)*spec.Step, Value: v}})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(7, 11))
	add := func(name string, newest int64, value func(i int) float64) {
		for i := range 300 {
			p := series.Point{Timestamp: newest - int64(299-i)*60, Value: value(i)}
			e.sent[name] = append(e.sent[name], p)
			samples = append(samples, series.Sample{Name: name, Point: p})
		}
	}
	spiky := make([]float64, 300)
	for i := range spiky {
		spiky[i] = 100 + 20*math.Sin(2*math.Pi*float64(i)/60) + rng.NormFloat64()
	}
	spiky[299] = e2eSpikeValue
	add(pageSpiky, t0-120, func(i int) float64 { return spiky[i] })
	add(pagePartner, t0-120, func(i int) float64 { return spiky[i]*3 + 7 + rng.NormFloat64()*0.01 })
	add(pageOther, t0-180, func(i int) float64 {
		if i == 299 {
			return 2 * e2eSpikeValue
		}
		return 50 + 0.5*float64(i) + rng.NormFloat64()*2
	})
	add(pageHostile, t0-240, func(i int) float64 {
		if i == 299 {
			return e2eSpikeValue
		}
		return 100 + rng.NormFloat64()*5
	})
	for lo := 0; lo < len(samples); lo += 5000 {
		k.sendPickle(t, samples[lo:min(lo+5000, len(samples))])
	}
	waitUntil(t, k, "GET /api/anomalies to list the spikes of spiky, other and the hostile name", func() bool {
		listed := map[string]bool{}
		for _, a := range k.anomalies(t) {
			listed[a.Metric] = true
		}
		return listed[pageSpiky] && listed[pageOther] && listed[pageHostile]
	})

	e.browser = testserver.StartChromium(t)
	e.ctx = e.browser.Ctx
	e.browser.OnNewDocument(t, `(() => {
  const seen = window.__kaleE2E = {calls: [], csp: []};
  for (const f of ["alert", "confirm", "prompt"]) {
    window[f] = (...args) => { seen.calls.push(f + "(" + args.join(", ") + ")"); };
  }
  document.addEventListener("securitypolicyviolation", (ev) => {
    seen.csp.push(ev.violatedDirective + " " + ev.blockedURI);
  });
})();`)
	return e
}

// open loads the page, with ?metric= when metric is not empty, and waits
// until the list is drawn and both graphs show the selected metric.
func (e *pageE2E) open(t *testing.T, metric string) {
	t.Helper()
	path := "/"
	if metric != "" {
		path += "?metric=" + url.QueryEscape(metric)
	}
	e.navigate(t, path)
	testserver.WaitJS(t, e.ctx, "the list drawn", e2eStepTimeout, `performance.getEntriesByName("kale:list", "mark").length > 0 &&
		document.querySelectorAll("#anomalies tbody tr").length > 0`)
	if metric == "" {
		metric = testserver.Eval[string](t, e.ctx, `document.querySelector("#anomalies tbody tr.selected td.metric").textContent`)
	}
	e.waitGraphs(t, metric)
}

// rows returns the names in the list, top to bottom.
func (e *pageE2E) rows(t *testing.T) []string {
	t.Helper()
	return testserver.Eval[[]string](t, e.ctx, `Array.from(document.querySelectorAll("#anomalies tbody td.metric"), (td) => td.textContent)`)
}

// waitGraphs waits until both graph boxes show metric's SVG.
func (e *pageE2E) waitGraphs(t *testing.T, metric string) {
	t.Helper()
	m := jsString(metric)
	testserver.WaitJS(t, e.ctx, "both graphs of "+metric, e2eStepTimeout, `["graph-hour", "graph-day"].every((id) => {
		const box = document.getElementById(id);
		return box.dataset.metric === `+m+` && box.querySelector("svg.graph") !== null;
	})`)
}

// graphInfo is what checkGraphs reads of one drawn graph.
type graphInfo struct {
	Metric    string `json:"metric"`   // the box's data-metric
	Title     string `json:"title"`    // the SVG's <title>
	Commands  int    `json:"commands"` // M and L commands of path.series
	Moves     int    `json:"moves"`    // M commands: subpaths
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
	Anomalies []struct {
		T int64   `json:"t"`
		V float64 `json:"v"`
	} `json:"anomalies"`
}

// checkGraphs checks that both graphs show metric: title, one drawn point
// per point sent in the graph's window, drawn as one line, and the
// recorded spike (the newest point) marked.
func (e *pageE2E) checkGraphs(t *testing.T, metric string) {
	t.Helper()
	sent := e.sent[metric]
	spike := sent[len(sent)-1]
	for _, c := range []struct{ id, label string }{{"graph-hour", "last hour"}, {"graph-day", "last day"}} {
		g := testserver.Eval[graphInfo](t, e.ctx, `(() => {
			const box = document.getElementById(`+jsString(c.id)+`);
			const svg = box.querySelector("svg.graph");
			const d = svg.querySelector("path.series")?.getAttribute("d") ?? "";
			return {
				metric: box.dataset.metric ?? "",
				title: svg.querySelector(":scope > title")?.textContent ?? "",
				commands: (d.match(/[ML]/g) ?? []).length,
				moves: (d.match(/M/g) ?? []).length,
				from: +svg.dataset.from, until: +svg.dataset.until,
				anomalies: Array.from(svg.querySelectorAll("circle.anomaly"), (el) => ({t: +el.dataset.t, v: +el.dataset.v})),
			};
		})()`)
		want := 0
		for _, p := range sent {
			if p.Timestamp >= g.From && p.Timestamp <= g.Until {
				want++
			}
		}
		if g.Metric != metric || g.Title != metric+", "+c.label {
			t.Errorf("%s: data-metric %q, title %q; want %q and %q", c.id, g.Metric, g.Title, metric, metric+", "+c.label)
		}
		if g.Commands != want || want < 50 || g.Moves != 1 {
			t.Errorf("%s of %s: the line has %d points in %d pieces; want the %d points sent in [%d, %d], in one piece",
				c.id, metric, g.Commands, g.Moves, want, g.From, g.Until)
		}
		marked := false
		for _, a := range g.Anomalies {
			marked = marked || a.T == spike.Timestamp && a.V == spike.Value
		}
		if !marked {
			t.Errorf("%s of %s: no anomaly marked at the spike (%d, %v): %+v", c.id, metric, spike.Timestamp, spike.Value, g.Anomalies)
		}
	}
}

// hoverRow moves the mouse onto the middle of metric's row, scrolled into
// view, and returns where that is.
func (e *pageE2E) hoverRow(t *testing.T, metric string) [2]float64 {
	t.Helper()
	xy := testserver.Eval[*[2]float64](t, e.ctx, `(() => {
		const td = Array.from(document.querySelectorAll("#anomalies tbody td.metric")).find((td) => td.textContent === `+jsString(metric)+`);
		if (!td) return null;
		td.scrollIntoView({block: "nearest"});
		const r = td.getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2];
	})()`)
	if xy == nil {
		t.Fatalf("no row for %q in the list", metric)
	}
	e.mouse(t, xy[0], xy[1])
	return *xy
}

// mouseAway moves the mouse onto the page's header, off the list and the
// graphs, so that a row redrawn under a resting mouse (the list refreshes
// every 10 s) cannot change the selection in a later step.
func (e *pageE2E) mouseAway(t *testing.T) {
	t.Helper()
	e.mouse(t, 2, 2)
}

// mouse moves the mouse to (x, y), in CSS pixels of the viewport.
func (e *pageE2E) mouse(t *testing.T, x, y float64) {
	t.Helper()
	e.do(t, fmt.Sprintf("cannot move the mouse to (%v, %v)", x, y), chromedp.MouseEvent(chromedp.MouseMoved, x, y))
}

// key presses and releases key (a kb constant) on the page.
func (e *pageE2E) key(t *testing.T, key string) {
	t.Helper()
	e.do(t, fmt.Sprintf("cannot press %q", key), chromedp.KeyEvent(key))
}

// readoutText is the read-out's "YYYY-MM-DD hh:mm:ss  value".
var readoutText = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  (\S+)$`)

// checkReadout moves the mouse over metric's hour graph, at the time of
// the 20th point from the end, and checks that the read-out shows that
// point's time and value.
func (e *pageE2E) checkReadout(t *testing.T, metric string) {
	t.Helper()
	sent := e.sent[metric]
	p := sent[len(sent)-20]
	xy := testserver.Eval[*[2]float64](t, e.ctx, `(() => {
		const svg = document.querySelector("#graph-hour svg.graph");
		const r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal, d = svg.dataset;
		const x = +d.x0 + (`+strconv.FormatInt(p.Timestamp, 10)+` - d.from) / (d.until - d.from) * (d.x1 - d.x0);
		return [r.left + x * r.width / vb.width, r.top + r.height / 2];
	})()`)
	if xy == nil {
		t.Fatal("no hour graph")
	}
	e.mouse(t, xy[0], xy[1])
	testserver.WaitJS(t, e.ctx, "the hover read-out", e2eStepTimeout, `(() => {
		const tip = document.querySelector("#graph-hour .readout");
		return tip !== null && !tip.hidden && tip.textContent !== "";
	})()`)
	text := testserver.Eval[string](t, e.ctx, `document.querySelector("#graph-hour .readout").textContent`)
	m := readoutText.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the read-out says %q, want a time and a value", text)
	}
	if want := time.Unix(p.Timestamp, 0).UTC().Format(time.DateTime); m[1] != want {
		t.Errorf("the read-out's time %s, want %s, the point under the mouse", m[1], want)
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil || math.Abs(v-p.Value) > 1e-5*math.Abs(p.Value) {
		t.Errorf("the read-out's value %q, want %v (6 digits)", m[2], p.Value)
	}
	if !testserver.Eval[bool](t, e.ctx, `document.querySelector("#graph-hour svg.graph line.cursor") !== null`) {
		t.Errorf("no cursor line in the hour graph under the mouse")
	}
}

// checkNothingRan checks that no script ran from a metric name: the page
// holds only its own scripts (files under /static/, none inline), no element has an event-handler attribute,
// no alert, confirm or prompt was called, and the Content-Security-Policy
// refused nothing.
func (e *pageE2E) checkNothingRan(t *testing.T) {
	t.Helper()
	got := testserver.Eval[struct {
		Scripts  []string `json:"scripts"`
		Handlers []string `json:"handlers"`
		Calls    []string `json:"calls"`
		CSP      []string `json:"csp"`
	}](t, e.ctx, `({
		scripts: Array.from(document.querySelectorAll("script"), (s) => s.getAttribute("src") ?? s.textContent),
		handlers: Array.from(document.querySelectorAll("*")).flatMap((el) =>
			el.getAttributeNames().filter((a) => a.toLowerCase().startsWith("on")).map((a) => el.tagName + " " + a)),
		calls: window.__kaleE2E.calls,
		csp: window.__kaleE2E.csp,
	})`)
	for _, src := range got.Scripts {
		if !strings.HasPrefix(src, "/static/") || !strings.HasSuffix(strings.Split(src, "?")[0], ".js") {
			t.Errorf("the page holds the scripts %q, want only its own files under /static/", got.Scripts)
			break
		}
	}
	if len(got.Handlers) > 0 {
		t.Errorf("elements with event-handler attributes: %q", got.Handlers)
	}
	if len(got.Calls) > 0 {
		t.Errorf("something ran: %q", got.Calls)
	}
	if len(got.CSP) > 0 {
		t.Errorf("the Content-Security-Policy refused: %q", got.CSP)
	}
}

// jsString is s as a JavaScript string literal (JSON escapes <, > and &
// too, so it is safe anywhere in a script).
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// waitOculus waits until Oculus has imported the data: /api/correlate
// answers for spiky with its partner first.
func (e *pageE2E) waitOculus(t *testing.T) {
	t.Helper()
	waitUntil(t, e.k, "GET /api/correlate to put "+pagePartner+" first for "+pageSpiky, func() bool {
		var r correlateAnswer
		status := getJSON(t, e.base+"/api/correlate?limit=3&metric="+url.QueryEscape(pageSpiky), &r)
		return status == 200 && len(r.Results) > 0 && r.Results[0].Metric == pagePartner
	})
}

// do runs steps in the tab within e2eStepTimeout, failing t with what
// when they fail.
func (e *pageE2E) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e2eStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// navigate loads base + path and waits for its scripts (DOMContentLoaded).
func (e *pageE2E) navigate(t *testing.T, path string) {
	t.Helper()
	e.do(t, "cannot open "+path, chromedp.Navigate(e.base+path))
}

// click clicks the first element that sel (CSS) matches, with the mouse.
func (e *pageE2E) click(t *testing.T, sel string) {
	t.Helper()
	e.do(t, "cannot click "+sel, chromedp.Click(sel))
}

// setValue sets the value of the form field sel (CSS).
func (e *pageE2E) setValue(t *testing.T, sel, value string) {
	t.Helper()
	e.do(t, "cannot fill "+sel, chromedp.SetValue(sel, value))
}

// clickRow clicks metric's row in the anomaly list.
func (e *pageE2E) clickRow(t *testing.T, metric string) {
	t.Helper()
	xy := e.hoverRow(t, metric)
	e.do(t, "cannot click the row of "+metric, chromedp.MouseClickXY(xy[0], xy[1]))
}

// card is one small graph of a list of results (common.js results()).
type card struct {
	Metric    string  `json:"metric"`    // the card's data-metric
	Link      string  `json:"link"`      // the name's text
	Caption   string  `json:"caption"`   // "distance 1.2", "the anomaly"
	Reference bool    `json:"reference"` // the query itself
	SVGMetric string  `json:"svgMetric"` // the graph box's data-metric
	Commands  int     `json:"commands"`  // M and L commands of its path.series
	From      int64   `json:"from"`
	Until     int64   `json:"until"`
	X0        float64 `json:"x0"`
	X1        float64 `json:"x1"`
	Left      float64 `json:"left"` // the graph's left edge on the page, CSS px
	Width     float64 `json:"width"`
}

// cards reads the small graphs in container (CSS), in order.
func (e *pageE2E) cards(t *testing.T, container string) []card {
	t.Helper()
	return testserver.Eval[[]card](t, e.ctx, `Array.from(document.querySelectorAll(`+jsString(container+" .card")+`), (c) => {
		const svg = c.querySelector("svg.graph"), d = svg ? svg.dataset : {}, r = svg ? svg.getBoundingClientRect() : {};
		return {
			metric: c.dataset.metric, link: c.querySelector("a.metric-name").textContent,
			caption: (c.querySelector(".caption") || {}).textContent || "", reference: c.classList.contains("reference"),
			svgMetric: c.querySelector(".graph-box").dataset.metric || "",
			commands: svg ? ((svg.querySelector("path.series")?.getAttribute("d") ?? "").match(/[ML]/g) ?? []).length : 0,
			from: +d.from || 0, until: +d.until || 0, x0: +d.x0 || 0, x1: +d.x1 || 0, left: r.left || 0, width: r.width || 0,
		};
	})`)
}

// checkCards checks that every drawn card shows its own metric's data on
// one time axis: the same window, plot edges and width as the first card,
// a distance on each match, and at least a few drawn points.
func (e *pageE2E) checkCards(t *testing.T, cards []card) {
	t.Helper()
	first := cards[0]
	for _, c := range cards {
		if c.Commands == 0 { // not drawn (yet): only the first few are waited for
			continue
		}
		if c.SVGMetric != c.Metric || c.Link != c.Metric {
			t.Errorf("card %q shows the graph of %q, named %q", c.Metric, c.SVGMetric, c.Link)
		}
		if c.From != first.From || c.Until != first.Until || c.X0 != first.X0 || c.X1 != first.X1 || c.Left != first.Left || c.Width != first.Width {
			t.Errorf("card %q is not on the first card's time axis: %+v, first %+v", c.Metric, c, first)
		}
		if !c.Reference && !strings.HasPrefix(c.Caption, "distance ") {
			t.Errorf("card %q has no distance: %q", c.Metric, c.Caption)
		}
		if c.Commands < 10 {
			t.Errorf("card %q draws %d points", c.Metric, c.Commands)
		}
	}
}

// waitMembers waits until the collection page shows the collection name
// with exactly the graphs of metrics, drawn.
func (e *pageE2E) waitMembers(t *testing.T, name string, metrics []string) {
	t.Helper()
	testserver.WaitJS(t, e.ctx, "the collection "+name, e2eStepTimeout, `document.getElementById("c-title")?.textContent === `+jsString(name)+` &&
		document.querySelectorAll("#members .card svg.graph path.series").length === `+strconv.Itoa(len(metrics)))
	got := testserver.Eval[[]string](t, e.ctx, `Array.from(document.querySelectorAll("#members .card"), (c) => c.dataset.metric)`)
	if !slices.Equal(got, metrics) {
		t.Errorf("the collection %q shows %q, want %q", name, got, metrics)
	}
}
