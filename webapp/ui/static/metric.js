// Kale's page of one metric (GET /metric?name=): its graph over a chosen
// range, what moved with it, and its past anomalies; clicking a past
// anomaly draws the two hours around it and what moved with it then.
// Shared code: common.js.
"use strict";

(function () {
  const K = window.Kale;
  const metric = document.body.dataset.metric || "";
  const rangeSel = document.getElementById("range");
  const box = K.withReadout(document.getElementById("graph"));
  const correlated = document.getElementById("correlated");
  const tbody = document.querySelector("#past tbody");
  const empty = document.getElementById("empty");
  const PAST = 30 * 86400;
  let around = null; // the past anomaly shown: {from, until}, or null for the range
  let draws = 0;     // the latest graph asked for: an older one arriving late is dropped

  function draw() {
    const p = around ? {metric: metric, from: around.from, until: around.until} : {metric: metric, range: +rangeSel.value};
    const n = ++draws;
    return K.showGraph(box, p, "graph", () => n === draws);
  }

  rangeSel.addEventListener("change", () => {
    around = null;
    for (const tr of tbody.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    K.setParam("range", rangeSel.value);
    draw();
  });
  const showCorrelated = (win) => K.correlate(correlated, metric, win).then(() => correlated.scrollIntoView({block: "start"}));
  document.getElementById("correlate").addEventListener("click", () => showCorrelated());

  function past() {
    const since = Math.floor(Date.now() / 1000) - PAST;
    return K.api("GET", "/api/anomalies?limit=1000&since=" + since + "&metric=" + encodeURIComponent(metric)).then((j) => {
      tbody.replaceChildren(...j.anomalies.map((a) => {
        const tr = K.el("tr");
        tr.tabIndex = 0;
        tr.append(K.el("td", null, K.fmtTime(a.timestamp)), K.el("td", "num", K.fmtValue(a.value)),
          K.el("td", "num", a.score.toFixed(2)), K.el("td", "detectors", a.detectors.join(", ")), K.el("td", null, a.profile));
        const open = () => {
          for (const s of tbody.querySelectorAll("tr.selected")) s.classList.remove("selected");
          tr.classList.add("selected");
          around = {from: a.timestamp - 3600, until: a.timestamp + 3600};
          draw();
          // The hour up to and including the anomaly ([from, until) in
          // Oculus's windows).
          showCorrelated({from: a.timestamp + 1 - 3600, until: a.timestamp + 1});
        };
        tr.addEventListener("click", open);
        tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
        return tr;
      }));
      empty.hidden = j.anomalies.length > 0;
      K.setStatus(false, j.anomalies.length + (j.anomalies.length === 1 ? " anomaly" : " anomalies") + " in the last 30 days");
    }, (err) => K.setStatus(true, "Cannot read the past anomalies: " + err.message));
  }

  draw();
  past();
})();
