// Kale's page of one collection (GET /collections/{id}): its description
// and its members as graphs, as saved (each over the window its shape was
// saved from) or over the last hour; edit, remove a member, delete.
// Shared code: common.js.
"use strict";

(function () {
  const K = window.Kale;
  const id = document.body.dataset.id || "";
  const title = document.getElementById("c-title");
  const description = document.getElementById("c-description");
  const meta = document.getElementById("c-meta");
  const members = document.getElementById("members");
  const when = document.getElementById("when");
  const editForm = document.getElementById("edit-form"); // absent when read-only
  const del = document.getElementById("delete");
  const url = "/api/collections/" + encodeURIComponent(id);
  let current = null;

  function show(c) {
    current = c;
    document.title = "Kale: " + c.name;
    title.textContent = c.name;
    description.textContent = c.description;
    meta.textContent = c.metrics.length + (c.metrics.length === 1 ? " metric" : " metrics") +
      ", created " + K.fmtTime(Date.parse(c.created) / 1000).slice(0, 16) + ", updated " + K.fmtTime(Date.parse(c.updated) / 1000).slice(0, 16) + " UTC";
    if (editForm) {
      editForm.elements.name.value = c.name;
      editForm.elements.description.value = c.description;
    }
    drawMembers();
  }

  function drawMembers() {
    const c = current;
    members.replaceChildren();
    if (!c.metrics.length) {
      members.appendChild(K.el("p", "hint", "No metrics yet: add some from the correlated metrics of an anomaly, or from a search."));
      return;
    }
    const list = K.el("ol", "graph-list");
    members.appendChild(list); // in the page first: the graphs are drawn at their boxes' width
    for (const m of c.metrics) {
      const li = K.el("li", "card");
      li.dataset.metric = m.metric;
      const head = K.el("div", "card-head");
      head.appendChild(K.el("a", "metric-name", m.metric, {href: K.metricURL(m.metric)}));
      const saved = m.window && m.window.until > m.window.from;
      if (saved) head.appendChild(K.el("span", "caption", "saved " + K.windowText(m.window)));
      if (!K.readOnly) {
        const rm = K.el("button", "remove", "Remove", {type: "button", "aria-label": "remove " + m.metric});
        rm.addEventListener("click", () => save({remove: [m.metric]}));
        head.appendChild(rm);
      }
      const box = K.withReadout(K.el("div", "graph-box small"));
      li.append(head, box);
      list.appendChild(li);
      const p = when.value === "saved" && saved ? {metric: m.metric, from: m.window.from, until: m.window.until, size: "small"} :
        {metric: m.metric, range: 3600, size: "small"};
      K.showGraph(box, p, "graph");
    }
  }

  // save sends a change; the page's buttons wait for its answer.
  function save(change) {
    const buttons = document.querySelectorAll("main button");
    for (const b of buttons) b.disabled = true;
    return K.api("POST", url, change).then((c) => {
      show(c);
      K.setStatus(false, "Saved.");
    }, (err) => K.setStatus(true, "Not saved: " + err.message)).finally(() => {
      for (const b of document.querySelectorAll("main button")) b.disabled = false;
    });
  }

  when.addEventListener("change", () => { if (current) drawMembers(); });
  if (editForm) {
    editForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      save({name: editForm.elements.name.value.trim(), description: editForm.elements.description.value.trim()});
    });
  }
  if (del) {
    del.addEventListener("click", () => {
      if (!current || !confirm("Delete the collection “" + current.name + "”?")) return;
      K.api("DELETE", url).then(() => { location.href = "/collections"; },
        (err) => K.setStatus(true, "Cannot delete it: " + err.message));
    });
  }
  K.api("GET", url).then(show, (err) => {
    title.textContent = "Collection not found";
    K.setStatus(true, "Cannot open the collection “" + id + "”: " + err.message);
    for (const e of [del, document.getElementById("edit"), when.parentElement]) if (e) e.hidden = true;
  });
})();
