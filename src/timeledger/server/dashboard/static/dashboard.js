// timeledger dashboard: labels table cells for phones, copy and print buttons, and keeps the
// events explorer live. Charts are SVG from the server. No inline scripts.
"use strict";

(function () {
  // On a phone each table row becomes a card; every cell is labelled by its column's header.
  function labelCells() {
    document.querySelectorAll("table.data").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (td, index) {
          if (heads[index] && !td.hasAttribute("data-label")) {
            td.setAttribute("data-label", heads[index]);
          }
        });
      });
    });
  }

  // Buttons that copy a field's text ([data-copy] names the element's id), or print the page.
  function wireButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        var text = source.value !== undefined ? source.value : source.textContent;
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { source.select(); });
        } else {
          source.select();
          document.execCommand("copy");
          done();
        }
      });
    });
    // A runId shortened on the page: the button copies the whole of it ([data-copy-text]).
    document.querySelectorAll("[data-copy-text]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(button.getAttribute("data-copy-text")).then(done);
        } else {
          window.prompt("Copy:", button.getAttribute("data-copy-text"));
        }
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
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
          labelCells();
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
            labelCells();
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

  function start() {
    labelCells();
    wireButtons();
    eventsExplorer();
  }

  // The script loads async (nothing on a page waits for it): before or after parsing ends.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
