/* Autosave for session notes: posts the draft every few seconds when it changed.
   The page works without this file; the Save button always submits the form. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave-url]");
  if (!form || !window.fetch || !window.FormData || !window.crypto || !window.crypto.getRandomValues) { return; }
  var url = form.getAttribute("data-autosave-url");
  var status = document.getElementById("autosave-status");
  var version = document.getElementById("notes-version");
  // Keys of autosaves that got no reply: one may have been saved with its reply lost on the way
  // back. Sent with every save (the Save button's too, through the hidden field), so the server
  // can tell the page's own save from someone else's.
  var unanswered = document.getElementById("unanswered-saves");
  var unansweredKeys = [];
  var INTERVAL_MS = 4000;
  var stopped = false;
  var busy = false;
  var submitting = false;

  function snapshot() {
    var parts = [];
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrf_token" && key !== "version" && key !== "unanswered_saves") { parts.push(key + "=" + value); }
    });
    return parts.join("\u0000");
  }

  var saved = snapshot();

  function say(message, isError) {
    if (!status) { return; }
    status.textContent = message;
    status.className = "autosave-status" + (isError ? " autosave-error" : "");
  }

  function newKey() {
    var words = new Uint32Array(4);
    window.crypto.getRandomValues(words);
    return Array.prototype.map.call(words, function (n) { return ("0000000" + n.toString(16)).slice(-8); }).join("");
  }

  function remember(keys) {
    unansweredKeys = keys.slice(-20);
    if (unanswered) { unanswered.value = unansweredKeys.join(","); }
  }

  function tick() {
    if (stopped || busy || submitting) { return; }
    var current = snapshot();
    if (current === saved) { return; }
    busy = true;
    var key = newKey();
    var body = new FormData(form);
    body.set("save_key", key);
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) {
        return { code: response.status, data: data };
      }, function () {
        return { code: response.status, data: {} };
      });
    }).then(function (result) {
      if (result.code === 200 && result.data.ok) {
        saved = current;
        remember([]);
        if (version && result.data.version !== undefined) { version.value = String(result.data.version); }
        var time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
        say("Draft saved automatically at " + time + ".", false);
      } else {
        // A conflict, a lapsed sign-in or an expired page: the Save button handles
        // each of them without losing text, so stop and say so.
        stopped = true;
        say((result.data && result.data.message) || "Autosave has stopped. Press Save to keep your text.", true);
      }
    }).catch(function () {
      remember(unansweredKeys.concat([key]));
      say("No connection: your text is still on this page and autosave will try again.", true);
    }).then(function () {
      busy = false;
    });
  }

  form.addEventListener("submit", function () { submitting = true; });
  // Back after a Save that never arrived: the page returns as it was, flag included.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { submitting = false; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && snapshot() !== saved) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.setInterval(tick, INTERVAL_MS);
}());
