// Kale's anomaly page. Kale's own code, no library: it lists the current
// anomalies from /api/anomalies (every string set with textContent, never
// as HTML), and shows the selected metric's last hour and day as the SVG
// graphs the server draws (/graph.svg, where every string is escaped).
// Hovering a row or moving with the up and down keys switches the graphs;
// the list refreshes itself every REFRESH_MS without losing the selection.
"use strict";

(function () {
  const REFRESH_MS = 10000;
  const GRAPH_TTL_MS = 15000; // a cached graph older than this is fetched again
  const RANGES = [["graph-hour", 3600, "last hour"], ["graph-day", 86400, "last day"]];

  const body = document.body;
  const tbody = document.querySelector("#anomalies tbody");
  const empty = document.getElementById("empty");
  const status = document.getElementById("status");
  const filter = document.getElementById("filter");
  const windowSel = document.getElementById("window");
  const selectedName = document.getElementById("selected-name");

  let rows = [];      // the anomalies shown, one per metric, newest first
  let all = [];       // every metric's newest anomaly in the window
  let selected = body.dataset.metric || ""; // the selected metric's name
  const graphs = new Map(); // "range|metric" -> {at, svg} or a pending Promise

  // markOnce sets a performance mark the first time only: the speed report
  // (webapp/page_browser_test.go) reads them.
  function markOnce(name) {
    if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function fmtTime(ts) {
    const d = new Date(ts * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " +
      p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + ":" + p(d.getUTCSeconds());
  }

  function fmtValue(v) {
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e15 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(6)));
  }

  // Newest anomaly of each metric, newest first.
  function newestPerMetric(list) {
    const seen = new Map();
    for (const a of list) {
      const prev = seen.get(a.metric);
      if (!prev) seen.set(a.metric, Object.assign({count: 1}, a));
      else prev.count++;
    }
    return Array.from(seen.values()).sort((a, b) => b.timestamp - a.timestamp || (a.metric < b.metric ? -1 : 1));
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function render() {
    const f = filter.value.trim().toLowerCase();
    rows = f ? all.filter((a) => a.metric.toLowerCase().includes(f)) : all;
    const frag = document.createDocumentFragment();
    rows.forEach((a, i) => {
      const tr = document.createElement("tr");
      tr.dataset.index = String(i);
      tr.tabIndex = -1;
      const name = cell(tr, a.metric, "metric");
      name.title = a.metric;
      cell(tr, fmtValue(a.value), "num");
      cell(tr, fmtTime(a.timestamp));
      cell(tr, a.score.toFixed(2), "num");
      const det = cell(tr, a.detectors.length + ": " + a.detectors.join(", "), "detectors");
      det.title = a.detectors.join("\n") + (a.count > 1 ? "\n(" + a.count + " anomalies in the window)" : "");
      if (a.metric === selected) tr.classList.add("selected");
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
    empty.hidden = rows.length > 0;
    const at = rows.findIndex((a) => a.metric === selected);
    if (at < 0) select(rows.length ? 0 : -1, false);
    else if (!selectedName.textContent) select(at, true); // the first load, with ?metric=
  }

  // select makes rows[i] the selected metric and shows its graphs.
  function select(i, scroll) {
    const prev = tbody.querySelector("tr.selected");
    if (prev) prev.classList.remove("selected");
    if (i < 0 || i >= rows.length) {
      selected = "";
      selectedName.textContent = "";
      for (const [id] of RANGES) document.getElementById(id).replaceChildren();
      return;
    }
    const tr = tbody.children[i];
    tr.classList.add("selected");
    if (scroll) tr.scrollIntoView({block: "nearest"});
    if (rows[i].metric !== selected || !selectedName.textContent) {
      selected = rows[i].metric;
      selectedName.textContent = selected;
      const url = new URL(location.href);
      url.searchParams.set("metric", selected);
      history.replaceState(null, "", url);
    }
    showGraphs(selected);
    // Fetch the neighbours' graphs ahead, so that moving is instant.
    for (const j of [i - 1, i + 1]) {
      if (j >= 0 && j < rows.length) for (const [, secs] of RANGES) graph(rows[j].metric, secs);
    }
  }

  // graph returns a Promise of the SVG text of metric over the last secs.
  function graph(metric, secs) {
    const key = secs + "|" + metric;
    const c = graphs.get(key);
    if (c && (c.pending || Date.now() - c.at < GRAPH_TTL_MS)) return c.pending || Promise.resolve(c.svg);
    const url = "/graph.svg?range=" + secs + "&metric=" + encodeURIComponent(metric);
    const pending = fetch(url).then((r) => {
      if (!r.ok) return r.json().then((e) => { throw new Error(e.error || r.statusText); }, () => { throw new Error(r.statusText); });
      return r.text();
    }).then((svg) => {
      graphs.set(key, {at: Date.now(), svg: svg});
      return svg;
    }, (err) => {
      graphs.delete(key);
      throw err;
    });
    graphs.set(key, {pending: pending});
    if (graphs.size > 400) graphs.delete(graphs.keys().next().value);
    return pending;
  }

  function showGraphs(metric) {
    for (const [id, secs, label] of RANGES) {
      const box = document.getElementById(id);
      graph(metric, secs).then((svg) => {
        if (metric !== selected) return; // another row was chosen meanwhile
        // The server escaped every string in the SVG (webapp/graph.go).
        box.innerHTML = svg;
        box.dataset.metric = metric;
        markOnce("kale:graph:" + id); // the first graph of each range drawn (for the speed report)
      }, (err) => {
        if (metric !== selected) return;
        const p = document.createElement("p");
        p.className = "graph-error";
        p.textContent = "The " + label + " of " + metric + " cannot be drawn: " + err.message;
        box.replaceChildren(p);
      });
    }
  }

  // The hover read-out: the drawn point nearest the mouse, in time.
  function readout(ev) {
    const svg = ev.target.closest && ev.target.closest("svg.graph");
    const box = ev.currentTarget;
    let tip = box.querySelector(".readout");
    if (!svg) {
      if (tip) tip.hidden = true;
      return;
    }
    if (!svg._points) svg._points = JSON.parse(svg.dataset.points || "[]");
    const pts = svg._points;
    if (!pts.length) return;
    const rect = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    const x = (ev.clientX - rect.left) * vb.width / rect.width;
    const x0 = +svg.dataset.x0, x1 = +svg.dataset.x1, from = +svg.dataset.from, until = +svg.dataset.until;
    const t = from + (x - x0) / (x1 - x0) * (until - from);
    let lo = 0, hi = pts.length - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (pts[m][0] < t) lo = m + 1; else hi = m;
    }
    if (lo > 0 && t - pts[lo - 1][0] < pts[lo][0] - t) lo--;
    const p = pts[lo];
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "readout";
      box.appendChild(tip);
    }
    tip.hidden = false;
    tip.textContent = fmtTime(p[0]) + "  " + fmtValue(p[1]);
    let cursor = svg.querySelector("line.cursor");
    if (!cursor) {
      cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
      cursor.setAttribute("class", "cursor");
      svg.appendChild(cursor);
    }
    const cx = x0 + (p[0] - from) / (until - from) * (x1 - x0);
    const y0 = +svg.dataset.y0, y1 = +svg.dataset.y1, vlo = +svg.dataset.lo, vhi = +svg.dataset.hi;
    cursor.setAttribute("x1", cx);
    cursor.setAttribute("x2", cx);
    cursor.setAttribute("y1", y1);
    cursor.setAttribute("y2", y0);
    cursor.dataset.y = String(y0 - (y0 - y1) * (p[1] - vlo) / (vhi - vlo));
  }

  function load() {
    const secs = +windowSel.value || 3600;
    const since = Math.floor(Date.now() / 1000) - secs;
    return fetch("/api/anomalies?limit=100000&since=" + since).then((r) => r.json().then((j) => [r, j])).then(([r, j]) => {
      if (!r.ok) throw new Error(j.error || r.statusText);
      all = newestPerMetric(j.anomalies);
      render();
      markOnce("kale:list"); // the list first drawn (for the speed report)
      setStatus(all.length + " anomalous metrics, updated " + fmtTime(Date.now() / 1000).slice(11) + " UTC");
    }).catch((err) => setStatus("Cannot load the anomalies: " + err.message, true));
  }

  tbody.addEventListener("mouseover", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr && tr.dataset.index !== undefined) select(+tr.dataset.index, false);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target === filter || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    const i = rows.findIndex((a) => a.metric === selected);
    select(Math.max(0, Math.min(rows.length - 1, i + (ev.key === "ArrowDown" ? 1 : -1))), true);
  });
  filter.addEventListener("input", render);
  windowSel.addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("window", windowSel.value);
    history.replaceState(null, "", url);
    load();
  });
  document.getElementById("filter-form").addEventListener("submit", (ev) => ev.preventDefault());
  for (const [id] of RANGES) {
    const box = document.getElementById(id);
    box.addEventListener("mousemove", readout);
    box.addEventListener("mouseleave", () => {
      const tip = box.querySelector(".readout");
      if (tip) tip.hidden = true;
    });
  }

  load();
  setInterval(() => {
    graphs.clear();
    load().then(() => { if (selected) showGraphs(selected); });
  }, REFRESH_MS);
})();
