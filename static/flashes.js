/* The messages that say what just happened ("Action added.", "You have signed out") are on the page when
   it opens, and a live region there from the start is not read out by screen readers. As GOV.UK's
   notification banner does, move the focus to them (their box has tabindex="-1"), so they are read
   out and the next Tab carries on from them.
   Not when the page puts the focus or the view somewhere itself: an error summary or another element
   with autofocus (check-in's search box), an element already focused, or a #fragment the page was
   opened at (the register after adding a walk-in, the form to add the next action). There the message
   is read out politely instead, through a live region of its own added empty and filled a moment later. */
(function () {
  "use strict";
  var box = document.querySelector(".flashes[tabindex]");
  if (!box) { return; }

  function elsewhere() {
    if (document.querySelector("[autofocus]")) { return true; }
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) { return true; }
    var fragment = window.location.hash.slice(1);
    if (fragment) {
      try {
        return !!document.getElementById(decodeURIComponent(fragment));
      } catch (e) { /* a malformed fragment names nothing */ }
    }
    return false;
  }

  if (!elsewhere()) {
    box.focus();
    return;
  }
  var region = document.createElement("div");
  region.className = "visually-hidden";
  region.setAttribute("role", box.getAttribute("role") === "alert" ? "alert" : "status");
  region.setAttribute("data-flash-announcement", "");
  document.body.appendChild(region);
  window.setTimeout(function () {
    region.textContent = box.textContent.replace(/\s+/g, " ").trim();
  }, 400);
}());
