/* The messages that say what just happened ("Action added.", "You have signed out") are on the page when
   it opens, and a live region there from the start is not read out by screen readers. As GOV.UK's
   notification banner does, move the focus to them (their box has tabindex="-1"), so they are read
   out and the next Tab carries on from them.
   A page opened at a #fragment (the register after adding a walk-in, the form to add the next action)
   shows the message about it beside the fragment's element (data-flash-for): that box takes the focus
   without moving the view, which stays at the fragment.
   Not when the page puts the focus somewhere itself: an error summary or another element with autofocus
   (check-in's search box), an element already focused. Nor at a fragment with no message of its own.
   There the messages are read out politely instead, through a live region of their own added empty
   and filled a moment later; so are any messages other than the one focused. */
(function () {
  "use strict";
  var boxes = Array.prototype.slice.call(document.querySelectorAll(".flashes[tabindex]"));
  if (!boxes.length) { return; }

  var fragment = "";
  try {
    fragment = decodeURIComponent(window.location.hash.slice(1));
  } catch (e) { /* a malformed fragment names nothing */ }
  var target = fragment ? document.getElementById(fragment) : null;

  function focusedElsewhere() {
    if (document.querySelector("[autofocus]")) { return true; }
    var active = document.activeElement;
    return !!(active && active !== document.body && active !== document.documentElement);
  }

  var focus = null;
  if (!focusedElsewhere()) {
    if (target) {
      focus = boxes.filter(function (box) { return box.getAttribute("data-flash-for") === fragment; })[0] || null;
    } else {
      focus = boxes[0];
    }
  }

  function focusBeside() {
    focus.focus({preventScroll: true});
    var box = focus.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      focus.scrollIntoView({block: "nearest"});
    }
  }

  if (focus && !target) {
    focus.focus();
  } else if (focus) {
    // Scrolling to a fragment whose element cannot take the focus clears the focus (Chrome does it in the
    // first frame drawn once the page can be shown, before that frame's animation callbacks): the message
    // takes it in a frame after the page has loaded.
    var later = function () { window.requestAnimationFrame(focusBeside); };
    if (document.readyState === "complete") {
      later();
    } else {
      window.addEventListener("load", later);
    }
  }

  var rest = boxes.filter(function (box) { return box !== focus; });
  if (!rest.length) { return; }
  var region = document.createElement("div");
  region.className = "visually-hidden";
  region.setAttribute("role", rest.some(function (box) {
    return box.getAttribute("role") === "alert";
  }) ? "alert" : "status");
  region.setAttribute("data-flash-announcement", "");
  document.body.appendChild(region);
  window.setTimeout(function () {
    region.textContent = rest.map(function (box) {
      return box.textContent.replace(/\s+/g, " ").trim();
    }).join(" ");
  }, 400);
}());
