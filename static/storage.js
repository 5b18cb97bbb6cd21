/* The browser's own storage (localStorage) as drafts.js, notes.js and sign-out.js use it. Loaded before them
   on every page shown to someone signed in (base.html).
   - eventappStorage.open(): localStorage, or null where it cannot be used (a private window or a browser
     setting that refuses it, or full): the scripts then keep nothing on the device, and every form works
     as it does without JavaScript.
   - Signing out (sign-out.js) leaves a marker, "eventapp-signed-out:<user id>", changed at each sign-out.
     eventappStorage.watchSignOut(storage, user, callback) returns a check, true once that person has signed
     out since this page was opened (in this tab or another); the callback then runs, once. Pages still open
     in other tabs learn of it at once (the storage event), or at the latest before they next store anything,
     so nothing typed there after sign-out is left on the device for the next person. */
(function () {
  "use strict";
  var PROBE = "eventapp-probe";
  var MARK = "eventapp-signed-out:";

  function open() {
    try {
      var storage = window.localStorage;
      storage.setItem(PROBE, "1");
      storage.removeItem(PROBE);
      return storage;
    } catch (e) {
      return null;
    }
  }

  function read(storage, key) {
    try { return storage.getItem(key); } catch (e) { return null; }
  }

  function markSignedOut(storage, user) {
    // A new value each time: what matters is that it differs from what pages open now saw when they opened.
    try {
      storage.setItem(MARK + user, Date.now() + "-" + Math.random().toString(36).slice(2));
    } catch (e) { /* full: the pages open here still stop when their autosave or Save meets the signed-out server */ }
  }

  function watchSignOut(storage, user, callback) {
    var key = MARK + user;
    var seen = read(storage, key);
    var over = false;

    function check() {
      if (over) { return true; }
      var now = read(storage, key);
      // Not simply "gone": storage cleared by hand is not a sign-out.
      if (now !== null && now !== seen) {
        over = true;
        callback();
      }
      return over;
    }

    window.addEventListener("storage", function (event) {
      if (event.key === key) { check(); }
    });
    // Back to a page kept in the browser's memory (no storage events reach it meanwhile).
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) { check(); }
    });
    return check;
  }

  window.eventappStorage = { open: open, markSignedOut: markSignedOut, watchSignOut: watchSignOut };
}());
