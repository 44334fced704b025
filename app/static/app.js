/* Small progressive enhancements of the staff pages (templates/base.html). Every page works without
 * this file; the server validates everything. No inline script anywhere: the CSP allows 'self' only.
 *  - a select whose options carry data-search words (the points item list) gets a filter box above it:
 *    type a code, words of the text or pinyin initials, and only the matching items stay listed;
 *  - the batch entry's list of people (.batch-people): select all, clear, select one villager group,
 *    and the count of people ticked;
 *  - the entries list's "tick all" box in the table head ticks every entry of the page for the bulk review.
 */
(function () {
  "use strict";

  function matches(option, words) {
    var hay = option.getAttribute("data-search") || "";
    for (var i = 0; i < words.length; i++) {
      if (hay.indexOf(words[i]) < 0) { return false; }
    }
    return true;
  }

  function filterSelect(select, box, status) {
    var words = box.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
    var shown = 0, first = null;
    Array.prototype.forEach.call(select.querySelectorAll("option[data-search]"), function (opt) {
      var ok = matches(opt, words);
      opt.hidden = !ok;
      if (ok) { shown++; if (!first) { first = opt; } }
    });
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (grp) {
      grp.hidden = !grp.querySelector("option:not([hidden])");
    });
    var current = select.options[select.selectedIndex];
    if (first && (!current || current.hidden)) {
      first.selected = true;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    // while filtering, the list stays open below the box so a match is one click away
    select.size = words.length ? Math.max(2, Math.min(shown + select.querySelectorAll("optgroup:not([hidden])").length, 12)) : 0;
    status.textContent = words.length ? (select.getAttribute("data-filter-count") || "%n").replace("%n", shown) : "";
  }

  function enhanceSelect(select) {
    var box = document.createElement("input");
    box.type = "search";
    box.autocomplete = "off";
    box.className = "select-filter";
    box.id = select.id + "-filter";
    box.placeholder = select.getAttribute("data-filter-label") || "";
    box.setAttribute("aria-label", box.placeholder);
    box.setAttribute("aria-controls", select.id);
    var status = document.createElement("small");
    status.className = "muted select-filter-count";
    status.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(box, select);
    select.parentNode.insertBefore(status, select);
    box.addEventListener("input", function () { filterSelect(select, box, status); });
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); select.focus(); }  // Enter picks, it does not send the form
    });
  }

  function enhanceBatch(list) {
    var boxes = function (scope) { return scope.querySelectorAll("input[type=checkbox][name=person_ids]"); };
    var count = list.querySelector(".batch-count");
    function recount() {
      var n = list.querySelectorAll("input[type=checkbox][name=person_ids]:checked").length;
      if (count) { count.textContent = (count.getAttribute("data-template") || "%n").replace("%n", n); }
    }
    function tick(scope, on) {
      Array.prototype.forEach.call(boxes(scope), function (box) { box.checked = on; });
      recount();
    }
    Array.prototype.forEach.call(list.querySelectorAll(".batch-tools, .batch-group-tick"), function (el) {
      el.hidden = false;
    });
    list.addEventListener("click", function (ev) {
      var btn = ev.target.closest ? ev.target.closest("button[data-tick]") : null;
      if (!btn) { return; }
      var how = btn.getAttribute("data-tick");
      if (how === "all") { tick(list, true); }
      else if (how === "none") { tick(list, false); }
      else {
        // a group's button ticks the whole group; pressed again when all are ticked, it clears them
        var group = btn.closest("[data-group]");
        var all = boxes(group), on = false;
        for (var i = 0; i < all.length; i++) { if (!all[i].checked) { on = true; break; } }
        tick(group, on);
      }
    });
    list.addEventListener("change", recount);
    recount();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".batch-people"), enhanceBatch);
    Array.prototype.forEach.call(document.querySelectorAll("input[data-tick-all]"), function (all) {
      var name = all.getAttribute("data-tick-all");
      all.hidden = false;
      all.addEventListener("change", function () {
        Array.prototype.forEach.call(document.querySelectorAll("input[type=checkbox][name=" + name + "]"),
          function (box) { box.checked = all.checked; });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("select"), function (select) {
      if (select.querySelector("option[data-search]")) { enhanceSelect(select); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
