// Kale's page code shared by every page: formatting, the JSON API, the
// server-drawn SVG graphs with their hover read-out, the small aligned
// graphs of correlated metrics and search results, and adding metrics to
// a collection. Kale's own code, no library. Every string from the network
// is set with textContent or as an attribute value, never as HTML; the
// only HTML inserted is the SVG the server drew (webapp/graph.go escapes
// every string in it).
"use strict";

window.Kale = (function () {
  const body = document.body;
  const readOnly = body.dataset.readonly === "true";
  const GRAPH_TTL_MS = 15000; // a cached graph older than this is fetched again
  const graphs = new Map(); // graph URL -> {at, svg} or {pending: Promise}

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

  // markOnce sets a performance mark the first time only: the speed report
  // (webapp/page_browser_test.go) reads them.
  function markOnce(name) {
    if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
  }

  // setStatus writes the page's status line; parts are strings or nodes.
  function setStatus(isError, ...parts) {
    const status = document.getElementById("status");
    if (!status) return;
    status.replaceChildren(...parts);
    status.classList.toggle("error", !!isError);
  }

  // el makes an element with a class, text and attributes.
  function el(tag, cls, text, attrs) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }

  // here makes a path absolute on this origin: fetch refuses a relative
  // URL when the page was opened as http://user:password@host/.
  function here(path) { return new URL(path, location.origin); }

  // setParam puts key=value into the address bar's query, for bookmarks
  // and reloads. The URL is relative: an absolute one would lack the
  // user:password@ a page opened with them has, and be refused.
  function setParam(key, value) {
    const q = new URLSearchParams(location.search);
    q.set(key, value);
    try {
      history.replaceState(null, "", "?" + q.toString() + location.hash);
    } catch (e) { /* the address keeps its old query: nothing else depends on it */ }
  }

  function metricURL(name) { return "/metric?name=" + encodeURIComponent(name); }
  function collectionURL(id) { return "/collections/" + encodeURIComponent(id); }

  // api sends a request to the JSON API and resolves to the decoded
  // answer, or rejects with the server's {"error"} message.
  function api(method, url, payload) {
    const init = {method: method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
    if (payload !== undefined) {
      init.body = JSON.stringify(payload);
      init.headers["Content-Type"] = "application/json";
    }
    return fetch(here(url), init).then((r) => r.text().then((text) => {
      let j = null;
      try { j = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: said below */ }
      if (!r.ok) throw new Error((j && j.error) || (r.status + " " + r.statusText));
      if (j === null) throw new Error("the server's answer is not JSON");
      return j;
    }));
  }

  // graphURL is the URL of a graph: p holds metric and range, or from and
  // until, and size and width.
  function graphURL(p) {
    const q = new URLSearchParams();
    for (const k of ["range", "from", "until", "size", "width"]) if (p[k]) q.set(k, p[k]);
    q.set("metric", p.metric);
    return "/graph.svg?" + q.toString();
  }

  // graph resolves to the SVG text of a graph, from the cache when fresh.
  function graph(p) {
    const url = graphURL(p);
    const c = graphs.get(url);
    if (c && (c.pending || Date.now() - c.at < GRAPH_TTL_MS)) return c.pending || Promise.resolve(c.svg);
    const pending = fetch(here(url), {credentials: "same-origin"}).then((r) => {
      if (!r.ok) return r.json().then((e) => { throw new Error(e.error || r.statusText); }, () => { throw new Error(r.statusText); });
      return r.text();
    }).then((svg) => {
      graphs.set(url, {at: Date.now(), svg: svg});
      return svg;
    }, (err) => {
      graphs.delete(url);
      throw err;
    });
    graphs.set(url, {pending: pending});
    if (graphs.size > 600) graphs.delete(graphs.keys().next().value);
    return pending;
  }

  function clearGraphs() { graphs.clear(); }

  // boxWidth is the width to draw a graph for box at: its CSS pixels,
  // rounded to 20 so that nearby sizes share the cache (0: the server's
  // default, when the box is not laid out).
  function boxWidth(box) {
    const w = Math.round(box.clientWidth / 20) * 20;
    return w ? Math.max(240, Math.min(2400, w)) : 0;
  }

  // showGraph draws graph p into box, unless stillWanted() says by then
  // that another graph is wanted there. It resolves once drawn.
  function showGraph(box, p, label, stillWanted) {
    const want = stillWanted || (() => true);
    if (!p.width) p = Object.assign({width: boxWidth(box)}, p);
    return graph(p).then((svg) => {
      if (!want()) return;
      box.innerHTML = svg; // drawn and escaped by the server (webapp/graph.go)
      box.dataset.metric = p.metric;
    }, (err) => {
      if (!want()) return;
      box.replaceChildren(el("p", "graph-error", "The " + label + " of " + p.metric + " cannot be drawn: " + err.message));
      box.dataset.metric = "";
    });
  }

  // readout shows, over a graph, the drawn point nearest the mouse in time.
  function readout(ev) {
    const box = ev.currentTarget;
    const svg = ev.target.closest && ev.target.closest("svg.graph");
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
      tip = el("div", "readout");
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
    cursor.setAttribute("x1", cx);
    cursor.setAttribute("x2", cx);
    cursor.setAttribute("y1", svg.dataset.y1);
    cursor.setAttribute("y2", svg.dataset.y0);
    // The read-out sits above the plot, centred on the cursor, inside the box.
    const px = (cx * rect.width / vb.width) + svg.getBoundingClientRect().left - box.getBoundingClientRect().left;
    tip.style.left = Math.max(0, Math.min(box.clientWidth - tip.offsetWidth, px - tip.offsetWidth / 2)) + "px";
  }

  // withReadout gives box (a graph's container) the hover read-out.
  function withReadout(box) {
    box.addEventListener("mousemove", readout);
    box.addEventListener("mouseleave", () => {
      const tip = box.querySelector(".readout");
      if (tip) tip.hidden = true;
    });
    return box;
  }

  function windowText(w) {
    return fmtTime(w.from).slice(0, 16) + " to " + fmtTime(w.until).slice(11, 16) + " UTC";
  }

  // results fills container with small graphs aligned on one time axis:
  // o.reference (a metric, drawn first and marked) then o.matches
  // ([{metric, distance}], best first), each over o.window ({from, until};
  // without one, the last hour), with a checkbox to add it to a
  // collection (unless read-only). o.collections are saved collections
  // that resemble the query.
  function results(container, o) {
    container.replaceChildren();
    container.hidden = false;
    if (o.title) container.appendChild(el("h3", "results-title", o.title));
    const win = o.window && o.window.until > o.window.from ? o.window : null;
    const gp = (metric) => win ? {metric: metric, from: win.from, until: win.until, size: "small"} :
      {metric: metric, range: 3600, size: "small"};
    if (o.note) container.appendChild(el("p", "hint", o.note));
    if (!readOnly && o.matches.length) container.appendChild(collectionBar(container, win));
    if (o.collections && o.collections.length) {
      const p = el("p", "collections-found", "Saved collections that resemble it: ");
      o.collections.forEach((c, i) => {
        if (i) p.append(", ");
        const a = el("a", null, c.name, {href: collectionURL(c.id)});
        a.title = c.description || "";
        p.append(a, " (" + c.metric + ", distance " + c.distance.toFixed(1) + ")");
      });
      container.appendChild(p);
    }
    const list = el("ol", "graph-list");
    const cards = [];
    const card = (metric, cls, caption) => {
      const li = el("li", "card " + (cls || ""));
      li.dataset.metric = metric;
      const head = el("div", "card-head");
      if (!readOnly && cls !== "reference") {
        const box = el("input", "pick", null, {type: "checkbox", "aria-label": "select " + metric + " to add to a collection"});
        box.value = metric;
        head.appendChild(box);
      }
      head.appendChild(el("a", "metric-name", metric, {href: metricURL(metric)}));
      if (caption) head.appendChild(el("span", "caption", caption));
      li.appendChild(head);
      const gbox = withReadout(el("div", "graph-box small"));
      li.appendChild(gbox);
      list.appendChild(li);
      cards.push([gbox, metric]);
    };
    if (o.reference) card(o.reference, "reference", o.referenceCaption || "the query");
    for (const m of o.matches) card(m.metric, "match", typeof m.distance === "number" ? "distance " + m.distance.toFixed(1) : "");
    container.appendChild(list);
    if (!o.matches.length) container.appendChild(el("p", "hint", o.emptyText || "Nothing found."));
    // The graphs, best first; at most 6 fetches at a time (the browser's own limit).
    const draws = cards.map(([box, metric]) => () => showGraph(box, gp(metric), "graph"));
    let next = 0;
    const pump = () => { if (next < draws.length) draws[next++]().then(pump); };
    for (let i = 0; i < 6; i++) pump();
  }

  // collectionBar is the form that adds the metrics checked in container
  // to a new or an existing collection, with their shapes over win.
  function collectionBar(container, win) {
    const form = el("form", "collection-bar");
    const sel = el("select", "target", null, {"aria-label": "collection to add to"});
    sel.appendChild(el("option", null, "a new collection named…", {value: ""}));
    const name = el("input", "new-name", null, {type: "text", placeholder: "name of the new collection", "aria-label": "name of the new collection", maxlength: "200"});
    const button = el("button", null, "Add the checked metrics", {type: "submit"});
    const out = el("span", "bar-status", "", {role: "status"});
    form.append(el("span", null, "Add to "), sel, " ", name, " ", button, " ", out);
    api("GET", "/api/collections").then((j) => {
      for (const c of j.collections) sel.appendChild(el("option", null, c.name + " (" + c.metrics.length + ")", {value: c.id}));
    }, () => { /* the list stays: a new collection can still be made */ });
    sel.addEventListener("change", () => { name.hidden = sel.value !== ""; });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const picked = Array.from(container.querySelectorAll("input.pick:checked"), (b) => b.value);
      if (!picked.length) {
        out.textContent = "Check the metrics to add first.";
        return;
      }
      const span = win ? {from: win.from, until: win.until} : {};
      let done;
      if (sel.value === "") {
        if (!name.value.trim()) {
          out.textContent = "Name the new collection first.";
          name.focus();
          return;
        }
        done = api("POST", "/api/collections", Object.assign({name: name.value.trim(), description: "", metrics: picked}, span));
      } else {
        // The server appends them (add), so two people adding to one
        // collection at once both get their metrics in.
        done = api("POST", "/api/collections/" + encodeURIComponent(sel.value), Object.assign({add: picked}, span));
      }
      button.disabled = true;
      done.then((c) => {
        out.replaceChildren("Added to ", el("a", null, c.name, {href: collectionURL(c.id)}), ".");
        if (!Array.from(sel.options).some((o) => o.value === c.id)) {
          sel.appendChild(el("option", null, c.name + " (" + c.metrics.length + ")", {value: c.id}));
        }
        sel.value = c.id;
        name.hidden = true;
        for (const b of container.querySelectorAll("input.pick:checked")) b.checked = false;
      }, (err) => {
        out.textContent = "Not added: " + err.message;
      }).finally(() => { button.disabled = false; });
    });
    return form;
  }

  let correlations = 0; // the latest correlate call: older answers are dropped

  // correlate fills container with the metrics that moved with metric
  // over win ({from, until}: [from, until) in UNIX s; without one, the
  // index's window, the last hour of the latest import), best first, and
  // resolves once the list is there. With at (an anomaly's time) and no
  // win, an anomaly outside the index's window is compared over the
  // window's length up to and including at.
  function correlate(container, metric, win, at) {
    const req = String(++correlations);
    container.dataset.req = req;
    container.hidden = false;
    container.replaceChildren(el("p", "hint", "Looking for the metrics that moved with " + metric + "…"));
    const ask = (w) => api("GET", "/api/correlate?limit=20&metric=" + encodeURIComponent(metric) +
      (w ? "&from=" + w.from + "&until=" + w.until : ""));
    let answer = ask(win);
    if (!win && at) {
      answer = answer.then((j) => (at >= j.window.from && at < j.window.until) ? j :
        ask({from: at + 1 - (j.window.until - j.window.from || 3600), until: at + 1}));
    }
    return answer.then((j) => {
      if (container.dataset.req !== req) return;
      results(container, {
        title: "Moved with " + metric + ", " + windowText(j.window),
        reference: metric, referenceCaption: "the anomaly", window: j.window,
        matches: j.results, collections: j.collections,
        note: j.flat ? "This metric was flat over the window: it has no shape to compare." : "",
        emptyText: "No metric moved like it.",
      });
      container.dataset.loaded = metric;
    }, (err) => {
      if (container.dataset.req !== req) return;
      container.replaceChildren(el("p", "graph-error", "Cannot find what moved with " + metric + ": " + err.message));
    });
  }

  return {
    readOnly: readOnly, fmtTime: fmtTime, fmtValue: fmtValue, markOnce: markOnce, setStatus: setStatus, el: el,
    api: api, graph: graph, clearGraphs: clearGraphs, boxWidth: boxWidth, showGraph: showGraph, withReadout: withReadout,
    metricURL: metricURL, collectionURL: collectionURL, setParam: setParam, windowText: windowText, results: results, correlate: correlate,
  };
})();
