// Kale's collections page (GET /collections): the list, a form to create
// one, and delete. Shared code: common.js.
"use strict";

(function () {
  const K = window.Kale;
  const tbody = document.querySelector("#collections tbody");
  const empty = document.getElementById("empty");
  const form = document.getElementById("create-form"); // absent when read-only

  function load() {
    return K.api("GET", "/api/collections").then((j) => {
      const list = j.collections.slice().sort((a, b) => (a.updated < b.updated ? 1 : -1));
      tbody.replaceChildren(...list.map(row));
      empty.hidden = list.length > 0;
      K.setStatus(false, list.length + (list.length === 1 ? " collection" : " collections"));
    }, (err) => K.setStatus(true, "Cannot list the collections: " + err.message));
  }

  function row(c) {
    const tr = K.el("tr");
    tr.dataset.id = c.id;
    const name = K.el("td");
    name.appendChild(K.el("a", null, c.name, {href: K.collectionURL(c.id)}));
    tr.append(name, K.el("td", "description", c.description), K.el("td", "num", String(c.metrics.length)),
      K.el("td", null, K.fmtTime(Date.parse(c.updated) / 1000).slice(0, 16)));
    const actions = K.el("td");
    if (!K.readOnly) {
      const del = K.el("button", "danger", "Delete", {type: "button", "aria-label": "delete " + c.name});
      del.addEventListener("click", () => {
        if (!confirm("Delete the collection “" + c.name + "”?")) return;
        K.api("DELETE", "/api/collections/" + encodeURIComponent(c.id)).then(load,
          (err) => K.setStatus(true, "Cannot delete " + c.name + ": " + err.message));
      });
      actions.appendChild(del);
    }
    tr.appendChild(actions);
    return tr;
  }

  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const metrics = form.elements.metrics.value.split("\n").map((s) => s.trim()).filter((s) => s);
      K.api("POST", "/api/collections", {
        name: form.elements.name.value.trim(), description: form.elements.description.value.trim(), metrics: metrics,
      }).then((c) => {
        location.href = K.collectionURL(c.id);
      }, (err) => K.setStatus(true, "Not created: " + err.message));
    });
  }
  load();
})();
