// timeledger dashboard: draws the charts, and keeps the events explorer live. No inline scripts.
"use strict";

(function () {
  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      if (spec.layout && spec.layout.height) el.style.height = spec.layout.height + "px";
      var layout = Object.assign({
        margin: { l: 44, r: 12, t: 8, b: 36 },
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
        font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12,
                color: "#5f6b7a" },
        showlegend: false,
        bargap: 0.25,
        xaxis: { gridcolor: "#eef0f3", linecolor: "#cfd4db" },
        yaxis: { gridcolor: "#eef0f3", zerolinecolor: "#cfd4db", rangemode: "tozero" },
      }, spec.layout || {});
      window.Plotly.newPlot(el, spec.data, layout, { displayModeBar: false, responsive: true })
        .then(function () { el.setAttribute("data-drawn", "true"); });
    });
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function eventRow(ev, fresh) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(ev.seq));
    if (fresh) tr.className = "fresh";
    cell(tr, String(ev.seq), "num");
    cell(tr, ev.eventTimeText || "–", "num");
    cell(tr, ev.type + (ev.action ? " · " + ev.action : ""));
    cell(tr, ev.learner ? link("/learners/" + encodeURIComponent(ev.learner), ev.learner) : "–");
    cell(tr, ev.runId ? link("/runs/" + encodeURIComponent(ev.runId), ev.runId.slice(0, 8))
                      : "–");
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = "raw JSON";
    var pre = document.createElement("pre");
    pre.className = "event-json";
    pre.textContent = JSON.stringify(ev.event, null, 2);
    details.appendChild(summary);
    details.appendChild(pre);
    cell(tr, details);
    return tr;
  }

  function eventsExplorer() {
    var table = document.getElementById("events-table");
    if (!table) return;
    var body = table.querySelector("tbody");
    var endpoint = table.getAttribute("data-endpoint");
    var status = document.getElementById("events-live");
    var older = document.getElementById("events-older");
    var interval = Number(table.getAttribute("data-poll-ms")) || 5000;
    var busy = false;

    function query(extra) {
      return endpoint + (endpoint.indexOf("?") >= 0 ? "&" : "?") + extra;
    }

    function removeEmpty() {
      var empty = body.querySelector("td.empty");
      if (empty) empty.parentNode.remove();
    }

    function poll() {
      if (busy || document.hidden) return;
      busy = true;
      var after = table.getAttribute("data-after") || "0";
      fetch(query("after=" + after), { credentials: "same-origin" })
        .then(function (reply) {
          if (!reply.ok) throw new Error("HTTP " + reply.status);
          return reply.json();
        })
        .then(function (page) {
          if (page.events.length) {
            removeEmpty();
            // Oldest first, each put on top, so the newest ends up first.
            page.events.slice().reverse().forEach(function (ev) {
              body.insertBefore(eventRow(ev, true), body.firstChild);
            });
          }
          table.setAttribute("data-after", page.cursor);
          status.classList.remove("paused");
          status.textContent = "live · checked " + new Date().toLocaleTimeString();
        })
        .catch(function (err) {
          status.classList.add("paused");
          status.textContent = "not refreshing (" + err.message + ")";
        })
        .finally(function () { busy = false; });
    }

    if (older) {
      older.addEventListener("click", function () {
        var before = table.getAttribute("data-before");
        if (!before) return;
        older.disabled = true;
        fetch(query("before=" + before), { credentials: "same-origin" })
          .then(function (reply) { return reply.json(); })
          .then(function (page) {
            page.events.forEach(function (ev) { body.appendChild(eventRow(ev, false)); });
            if (page.next) {
              table.setAttribute("data-before", String(page.next));
              older.disabled = false;
            } else {
              table.removeAttribute("data-before");
              older.textContent = "No older events";
            }
          });
      });
    }
    window.setInterval(poll, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    eventsExplorer();
  });
})();
