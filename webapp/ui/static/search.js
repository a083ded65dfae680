// Kale's search page (GET /search): by name, with completion from
// /api/metrics, and by a curve drawn with the mouse or a finger (Oculus's
// draw-a-query, POST /api/search). Both show their results as small
// graphs on one time axis. Shared code: common.js.
"use strict";

(function () {
  const K = window.Kale;
  const SUGGEST = 20;       // names offered while typing
  const SHOWN = 20;         // metrics drawn for a name search
  const DRAW_POINTS = 120;  // values sent for a drawn curve (one a minute over the hour)

  // --- By name ---
  const form = document.getElementById("name-form");
  const input = document.getElementById("name");
  const suggestions = document.getElementById("name-suggestions");
  const count = document.getElementById("name-count");
  const nameResults = document.getElementById("name-results");
  let typed = 0; // the latest keystroke's number: older answers are ignored

  input.addEventListener("input", () => {
    const q = input.value.trim();
    const n = ++typed;
    if (q.length < 1) {
      suggestions.replaceChildren();
      return;
    }
    K.api("GET", "/api/metrics?limit=" + SUGGEST + "&contains=" + encodeURIComponent(q)).then((j) => {
      if (n !== typed) return;
      suggestions.replaceChildren(...j.metrics.map((m) => K.el("option", null, null, {value: m})));
    }, () => { /* completion is a help: the search itself reports errors */ });
  });

  let searches = 0; // the latest search by name: older answers are dropped

  function searchName(q) {
    K.setParam("q", q);
    count.textContent = "Searching…";
    const n = ++searches;
    K.api("GET", "/api/metrics?limit=" + SHOWN + "&contains=" + encodeURIComponent(q)).then((j) => {
      if (n !== searches) return;
      count.textContent = j.metrics.length === 0 ? "No metric name contains “" + q + "”." :
        (j.truncated ? "The first " + SHOWN + " metrics" : j.metrics.length + (j.metrics.length === 1 ? " metric" : " metrics")) +
        " whose name contains “" + q + "”, last hour:";
      K.results(nameResults, {matches: j.metrics.map((m) => ({metric: m})), emptyText: ""});
    }, (err) => {
      if (n === searches) count.textContent = "Cannot search: " + err.message;
    });
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    if (q) searchName(q);
  });
  if (input.value.trim()) searchName(input.value.trim());

  // --- By shape ---
  const svg = document.getElementById("draw");
  const path = document.getElementById("drawn");
  const searchButton = document.getElementById("draw-search");
  const shapeResults = document.getElementById("shape-results");
  const W = 800, H = 200;
  let drawn = new Array(DRAW_POINTS).fill(null); // y per bucket (0 at the top), null where not drawn
  let drawing = false;
  let last = null; // the previous [bucket, y] while drawing

  function toView(ev) {
    const r = svg.getBoundingClientRect();
    return [Math.max(0, Math.min(W, (ev.clientX - r.left) * W / r.width)), Math.max(0, Math.min(H, (ev.clientY - r.top) * H / r.height))];
  }

  function bucket(x) { return Math.max(0, Math.min(DRAW_POINTS - 1, Math.round(x / W * (DRAW_POINTS - 1)))); }

  // put records y at bucket b and fills the buckets since the previous
  // point linearly, so a fast stroke leaves no holes.
  function put(b, y) {
    if (last && last[0] !== b) {
      const [pb, py] = last, step = b > pb ? 1 : -1;
      for (let i = pb + step; i !== b; i += step) drawn[i] = py + (y - py) * (i - pb) / (b - pb);
    }
    drawn[b] = y;
    last = [b, y];
  }

  // values fills the undrawn buckets (flat before the first and after the
  // last drawn one, linear between) and turns y (down) into values (up).
  function values() {
    const first = drawn.findIndex((v) => v !== null);
    if (first < 0) return null;
    const out = drawn.slice();
    let prev = first;
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== null) {
        for (let j = prev + 1; j < i; j++) out[j] = out[prev] + (out[i] - out[prev]) * (j - prev) / (i - prev);
        prev = i;
      }
    }
    for (let i = 0; i < first; i++) out[i] = out[first];
    for (let i = prev + 1; i < out.length; i++) out[i] = out[prev];
    return out.map((y) => H - y);
  }

  function redraw() {
    let d = "";
    drawn.forEach((y, i) => {
      if (y === null) return;
      d += (d && drawn[i - 1] !== null ? "L" : "M") + (i * W / (DRAW_POINTS - 1)).toFixed(1) + " " + y.toFixed(1);
    });
    path.setAttribute("d", d);
    searchButton.disabled = drawn.filter((v) => v !== null).length < 2;
  }

  svg.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    svg.setPointerCapture(ev.pointerId);
    drawing = true;
    last = null;
    const [x, y] = toView(ev);
    put(bucket(x), y);
    redraw();
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    const [x, y] = toView(ev);
    put(bucket(x), y);
    redraw();
  });
  const stop = () => { drawing = false; last = null; };
  svg.addEventListener("pointerup", stop);
  svg.addEventListener("pointercancel", stop);

  document.getElementById("draw-clear").addEventListener("click", () => {
    drawn = new Array(DRAW_POINTS).fill(null);
    redraw();
    shapeResults.replaceChildren();
  });

  let shapes = 0; // the latest search by shape

  searchButton.addEventListener("click", () => {
    const v = values();
    if (!v) return;
    shapeResults.replaceChildren(K.el("p", "hint", "Searching…"));
    const n = ++shapes;
    K.api("POST", "/api/search", {values: v, limit: 20}).then((j) => {
      if (n !== shapes) return;
      K.results(shapeResults, {
        title: "Closest to the drawn curve, " + K.windowText(j.window),
        window: j.window, matches: j.results, collections: j.collections,
        note: j.flat ? "The drawn curve is flat: draw some ups and downs." : "",
        emptyText: "No metric looks like it.",
      });
    }, (err) => {
      if (n === shapes) shapeResults.replaceChildren(K.el("p", "graph-error", "Cannot search: " + err.message));
    });
  });
  redraw();
})();
