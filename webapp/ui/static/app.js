// Kale's anomaly page (GET /). It lists the current anomalies from
// /api/anomalies, one row per metric, newest first, and shows the selected
// metric's last hour and day (/graph.svg). Hovering a row or moving with
// the up and down keys switches the graphs; a click or Enter opens the
// metrics that moved with it (/api/correlate). The list refreshes itself
// every REFRESH_MS without losing the selection. Shared code: common.js.
"use strict";

(function () {
  const K = window.Kale;
  const REFRESH_MS = 10000;
  const FIRST_ROWS = 100; // rows drawn at once; the rest follow in CHUNK_ROWS when the browser is idle
  const CHUNK_ROWS = 250;
  const RANGES = [["graph-hour", 3600, "last hour"], ["graph-day", 86400, "last day"]];

  const body = document.body;
  const tbody = document.querySelector("#anomalies tbody");
  const empty = document.getElementById("empty");
  const filter = document.getElementById("filter");
  const windowSel = document.getElementById("window");
  const selectedName = document.getElementById("selected-name");
  const selectedLinks = document.getElementById("selected-links");
  const metricLink = document.getElementById("metric-link");
  const correlated = document.getElementById("correlated");
  const selectedNote = document.getElementById("selected-note");

  let rows = [];      // the anomalies shown, one per metric, newest first
  let all = [];       // every metric's newest anomaly in the window
  let selected = body.dataset.metric || ""; // the selected metric's name
  let shown = "";     // the data the list shows (see signature)
  let renderGen = 0;  // the latest render: chunks of an older one stop
  let loads = 0;      // the latest load: older answers are dropped
  let loading = false;
  let pointer = "";   // where the mouse last was over the list ("x,y")

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

  function cell(tr, text, cls) { return tr.appendChild(K.el("td", cls, text)); }

  function row(a, i) {
    const tr = document.createElement("tr");
    tr.dataset.index = String(i);
    tr.tabIndex = -1;
    const name = cell(tr, a.metric, "metric");
    name.title = a.metric;
    cell(tr, K.fmtValue(a.value), "num");
    const when = K.fmtTime(a.timestamp);
    const time = cell(tr, "");
    time.append(K.el("span", "date", when.slice(0, 11)), when.slice(11)); // a phone shows the time of day only
    cell(tr, a.score.toFixed(2), "num score");
    const det = cell(tr, a.detectors.length + ": " + a.detectors.join(", "), "detectors");
    det.title = a.detectors.join("\n") + (a.count > 1 ? "\n(" + a.count + " anomalies in the window)" : "");
    if (a.metric === selected) tr.classList.add("selected");
    return tr;
  }

  // rowsUpTo draws the rows before n that are not drawn yet.
  function rowsUpTo(n) {
    const frag = document.createDocumentFragment();
    for (let i = tbody.children.length; i < Math.min(n, rows.length); i++) frag.appendChild(row(rows[i], i));
    tbody.appendChild(frag);
  }

  // render draws the list: the first FIRST_ROWS rows (or as many as were
  // drawn before, so a refresh keeps the scroll) at once, the rest in
  // chunks when the browser is idle, so the selected metric's graphs are
  // not kept waiting behind a thousand rows.
  function render(keepRows) {
    const f = filter.value.trim().toLowerCase();
    rows = f ? all.filter((a) => a.metric.toLowerCase().includes(f)) : all;
    const gen = ++renderGen;
    const now = keepRows ? Math.max(FIRST_ROWS, tbody.children.length) : FIRST_ROWS;
    tbody.replaceChildren();
    rowsUpTo(now);
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 1));
    const more = () => {
      if (gen !== renderGen) return;
      if (tbody.children.length >= rows.length) {
        K.markOnce("kale:rows"); // every row drawn (for the speed report)
        return;
      }
      rowsUpTo(tbody.children.length + CHUNK_ROWS);
      idle(more, {timeout: 300});
    };
    idle(more, {timeout: 300});
    empty.hidden = rows.length > 0;
    // The selected metric stays selected when it leaves the list (its
    // anomaly aged out of the window, the filter hides it, or the alert's
    // link named it): its graphs stay, with a note. Only with nothing
    // selected does the first row get selected.
    const at = rows.findIndex((a) => a.metric === selected);
    if (at >= 0 && !selectedName.textContent) select(at, true); // the first load, with ?metric=
    else if (at < 0 && selected && !selectedName.textContent) show(selected);
    else if (at < 0 && !selected) select(rows.length ? 0 : -1, false);
    selectedNote.hidden = !selected || at >= 0;
  }

  // select makes rows[i] the selected metric and shows its graphs.
  function select(i, scroll) {
    const prev = tbody.querySelector("tr.selected");
    if (prev) prev.classList.remove("selected");
    if (i < 0 || i >= rows.length) {
      selected = "";
      selectedName.textContent = "";
      selectedLinks.hidden = true;
      for (const [id] of RANGES) document.getElementById(id).replaceChildren();
      return;
    }
    rowsUpTo(i + 1);
    const tr = tbody.children[i];
    tr.classList.add("selected");
    if (scroll) tr.scrollIntoView({block: "nearest"});
    selectedNote.hidden = true;
    show(rows[i].metric);
    // Fetch the neighbours' graphs ahead, so that moving is instant.
    for (const j of [i - 1, i + 1]) {
      if (j < 0 || j >= rows.length) continue;
      for (const [id, secs] of RANGES) K.graph({metric: rows[j].metric, range: secs, width: K.boxWidth(document.getElementById(id))});
    }
  }

  // show makes metric the selected one and draws its graphs.
  function show(metric) {
    if (metric !== selected || !selectedName.textContent) {
      selected = metric;
      selectedName.textContent = selected;
      metricLink.href = K.metricURL(selected);
      selectedLinks.hidden = false;
      K.setParam("metric", selected);
    }
    showGraphs(selected);
  }

  function showGraphs(metric) {
    for (const [id, secs, label] of RANGES) {
      K.showGraph(document.getElementById(id), {metric: metric, range: secs}, label, () => metric === selected)
        .then(() => { if (metric === selected) K.markOnce("kale:graph:" + id); }); // for the speed report
    }
  }

  // openCorrelated shows the metrics that moved with the selected one,
  // over the hour up to its anomaly (the index's window when it holds it).
  function openCorrelated() {
    if (!selected) return;
    const a = all.find((x) => x.metric === selected);
    K.correlate(correlated, selected, null, a ? a.timestamp : 0).then(() => correlated.scrollIntoView({block: "nearest"}));
  }

  function load() {
    const secs = +windowSel.value || 3600;
    const since = Math.floor(Date.now() / 1000) - secs;
    const n = ++loads;
    loading = true;
    return K.api("GET", "/api/anomalies?limit=100000&since=" + since).then((j) => {
      if (n !== loads) return; // a newer load (another window) was asked for
      const next = newestPerMetric(j.anomalies);
      const sig = JSON.stringify(next);
      if (sig !== shown) { // unchanged: leave the list as it is
        shown = sig;
        all = next;
        render(true);
      }
      K.markOnce("kale:list"); // the list first drawn (for the speed report)
      K.setStatus(false, all.length + " anomalous metrics, updated " + K.fmtTime(Date.now() / 1000).slice(11) + " UTC");
    }).catch((err) => {
      if (n === loads) K.setStatus(true, "Cannot load the anomalies: " + err.message);
    }).finally(() => { if (n === loads) loading = false; });
  }

  // Hovering selects: on a real move of the mouse only, not when a row
  // slides under a resting pointer (the arrow keys scroll the list, and
  // the browser then reports a move at the same place).
  tbody.addEventListener("mousemove", (ev) => {
    const at = ev.clientX + "," + ev.clientY;
    if (at === pointer) return;
    pointer = at;
    const tr = ev.target.closest("tr");
    if (tr && tr.dataset.index !== undefined && !tr.classList.contains("selected")) select(+tr.dataset.index, false);
  });
  tbody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (!tr || tr.dataset.index === undefined) return;
    select(+tr.dataset.index, false);
    openCorrelated();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;
    if (t === filter && (ev.key === "ArrowDown" || ev.key === "Enter")) { // from the filter into the list
      ev.preventDefault();
      if (ev.key === "Enter") return openCorrelated();
      if (!rows.length) return;
      let i = rows.findIndex((a) => a.metric === selected);
      if (i < 0) i = 0;
      select(i, true);
      tbody.children[i].focus();
      return;
    }
    if (t !== body && t !== document.documentElement && !(t.closest && t.closest("#anomalies"))) return; // typing elsewhere
    if (ev.key === "Enter") {
      ev.preventDefault();
      openCorrelated();
      return;
    }
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    const i = rows.findIndex((a) => a.metric === selected);
    select(Math.max(0, Math.min(rows.length - 1, i + (ev.key === "ArrowDown" ? 1 : -1))), true);
  });
  filter.addEventListener("input", () => render(false));
  windowSel.addEventListener("change", () => {
    K.setParam("window", windowSel.value);
    load();
  });
  document.getElementById("filter-form").addEventListener("submit", (ev) => ev.preventDefault());
  for (const [id] of RANGES) K.withReadout(document.getElementById(id));

  load();
  setInterval(() => {
    if (loading || document.hidden) return; // the last one still running, or nobody looking
    K.clearGraphs();
    load().then(() => { if (selected) showGraphs(selected); });
  }, REFRESH_MS);
})();
