/* The digest page (templates/rules/digest.html), a progressive enhancement: the page works without it.
 *  - the points' rows can be dragged into a new order: the place numbers are rewritten 1, 2, 3 … and the
 *    clerk saves (the server only ever reads the numbers, which work without this file);
 *  - the article search box filters the list of articles as the clerk types (ticked articles stay shown);
 *    without this file the box is a search form answered by the server.
 * No inline script: the CSP allows scripts from 'self' only.
 */
(function () {
  "use strict";

  function rows(tbody) { return Array.prototype.slice.call(tbody.querySelectorAll("tr[data-item]")); }

  function renumber(tbody) {
    rows(tbody).forEach(function (tr, i) {
      var input = tr.querySelector("input.digest-pos");
      if (input) { input.value = String(i + 1); }
    });
  }

  function enhanceOrder(form) {
    var tbody = form.querySelector("tbody[data-sortable]");
    if (!tbody) { return; }
    var moved = form.querySelector(".digest-moved");
    var dragged = null;
    rows(tbody).forEach(function (tr) {
      tr.draggable = true;
      var handle = tr.querySelector(".drag-handle");
      if (handle) { handle.hidden = false; }
    });
    tbody.addEventListener("dragstart", function (ev) {
      dragged = ev.target.closest ? ev.target.closest("tr[data-item]") : null;
      if (!dragged) { return; }
      dragged.classList.add("digest-dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", dragged.getAttribute("data-item"));
    });
    tbody.addEventListener("dragover", function (ev) {
      if (!dragged) { return; }
      ev.preventDefault();
      var over = ev.target.closest ? ev.target.closest("tr[data-item]") : null;
      if (!over || over === dragged) { return; }
      var box = over.getBoundingClientRect();
      tbody.insertBefore(dragged, ev.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    tbody.addEventListener("drop", function (ev) { if (dragged) { ev.preventDefault(); } });
    tbody.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("digest-dragging");
      dragged = null;
      renumber(tbody);
      if (moved) { moved.hidden = false; }
    });
  }

  function filterList(box, list) {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(list.querySelectorAll("li[data-search]"), function (li) {
      var hay = (li.getAttribute("data-search") || "").replace(/\s+/g, "");
      var ticked = li.querySelector("input:checked");
      var ok = words.every(function (w) { return hay.indexOf(w) >= 0; });
      li.hidden = !(ok || ticked);
    });
  }

  function enhanceSearch(box) {
    var list = document.getElementById(box.getAttribute("data-filter-list"));
    if (!list) { return; }
    box.addEventListener("input", function () { filterList(box, list); });
    box.addEventListener("keydown", function (ev) {
      // with the live filter the list is already narrowed: Enter must not reload the page
      if (ev.key === "Enter") { ev.preventDefault(); }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form.digest-order"), enhanceOrder);
    Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-list]"), enhanceSearch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
