/* Kiosk behaviour (templates/kiosk/base.html). No inline script anywhere: the CSP allows scripts
 * from 'self' only.
 *  - idle timer: after data-idle-seconds without a touch the kiosk goes back to the start page
 *    (submitting the finish form when a household is open); the last 10 seconds show a countdown;
 *  - on-screen number pad and letter grid type into the input their data-target names;
 *  - the card box keeps the focus on the start page, so a USB scanner can type into it any time.
 */
(function () {
  "use strict";
  var body = document.body;

  function press(target, key) {
    var input = document.getElementById(target);
    if (!input) { return; }
    var max = parseInt(input.getAttribute("maxlength") || "64", 10);
    if (key === "back") {
      input.value = input.value.slice(0, -1);
    } else if (key === "clear") {
      input.value = "";
    } else if (input.value.length < max) {
      input.value += key;
    }
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (ev) {
    var key = ev.target.closest ? ev.target.closest("[data-key]") : null;
    if (!key) { return; }
    var pad = key.closest("[data-target]");
    if (pad) { press(pad.getAttribute("data-target"), key.getAttribute("data-key")); }
  });

  var keep = document.querySelector("[data-keep-focus]");
  if (keep) {
    keep.focus();
    document.addEventListener("focusout", function () {
      setTimeout(function () {
        if (!document.activeElement || document.activeElement === body) { keep.focus(); }
      }, 50);
    });
  }

  var refresh = parseInt(body.getAttribute("data-refresh-seconds") || "0", 10);
  if (refresh) {
    var quietSince = Date.now();
    ["pointerdown", "keydown", "input"].forEach(function (name) {
      document.addEventListener(name, function () { quietSince = Date.now(); }, { passive: true, capture: true });
    });
    setInterval(function () {
      if (Date.now() - quietSince > refresh * 1000) { window.location.reload(); }
    }, 5000);
  }

  var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  if (!seconds) { return; }
  var text = body.getAttribute("data-idle-text") || "{n}";
  var startUrl = body.getAttribute("data-start-url") || "/kiosk/";
  var banner = document.getElementById("k-idle");
  var warnAt = Math.min(10, seconds);
  var last = Date.now();
  var gone = false;

  function touched() {
    last = Date.now();
    if (banner && !banner.hidden) { banner.hidden = true; }
  }
  ["pointerdown", "touchstart", "keydown", "input", "scroll"].forEach(function (name) {
    document.addEventListener(name, touched, { passive: true, capture: true });
  });
  // A sent form (the number, the PIN) is someone waiting for the answer, not an idle screen: the countdown
  // stops until the next page, or it would go back to the start over a check the server takes long to make
  // (the PIN's hash on a busy machine) and throw away what the villager typed.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    gone = true;
    if (banner) { banner.hidden = true; }
  });
  // the same page shown again from the browser's cache (the back button) counts afresh
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { gone = false; touched(); }
  });

  function leave() {
    gone = true;
    var form = document.getElementById("k-finish");
    if (form) { form.submit(); } else { window.location.assign(startUrl); }
  }

  setInterval(function () {
    if (gone) { return; }
    var left = seconds - Math.floor((Date.now() - last) / 1000);
    if (left <= 0) {
      leave();
    } else if (left <= warnAt && banner) {
      banner.textContent = text.replace("{n}", String(left));
      banner.hidden = false;
    }
  }, 250);
}());
