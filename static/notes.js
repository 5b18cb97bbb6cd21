/* Autosave for session notes: posts the draft every few seconds when it changed.
   The page works without this file; the Save button always submits the form.
   What is typed is also kept on this device (localStorage) until the server has it, so closing
   the tab or losing the connection loses nothing: the notes page opened again puts it back, for the
   person who typed it only (<body data-user>, also named in the key). Sign out deletes it (sign-out.js), and
   from then on no page of theirs still open in another tab keeps a copy (storage.js, loaded first). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave-url]");
  if (!form || !window.fetch || !window.FormData || !window.crypto || !window.crypto.getRandomValues) { return; }
  var url = form.getAttribute("data-autosave-url");
  var status = document.getElementById("autosave-status");
  var version = document.getElementById("notes-version");
  // Keys of autosaves that got no reply: one may have been saved with its reply lost on the way
  // back. Sent with every save (the Save button's too, through the hidden field), so the server
  // can tell the page's own save from someone else's. The key of an autosave still on its way is
  // among them: Save pressed before its answer arrives must not meet it as someone else's save.
  var unanswered = document.getElementById("unanswered-saves");
  var unansweredKeys = [];
  var INTERVAL_MS = 4000;
  var DRAFT_DAYS = 14;
  var stopped = false;
  var busy = false;
  var submitting = false;
  var NOT_TEXT = { csrf_token: true, version: true, unanswered_saves: true, keep: true, typed_for: true };

  var user = document.body.getAttribute("data-user");
  var draftKey = form.getAttribute("data-draft-key");
  var owner = /^eventapp-[a-z]+-draft:(\d+):/.exec(draftKey || "");
  if (!user || !owner || owner[1] !== user) { draftKey = null; }  // never kept for, or put back to, anyone else
  var storage = window.eventappStorage ? window.eventappStorage.open() : null;
  var lastKept = null;  // what this page last stored under draftKey
  var signedOut = function () { return false; };
  // Someone else is signed in now (autosave answered typed_by): what this page holds is no longer its
  // typist's to keep. The copy stored so far stays until someone saves the text, which removes it (below).
  var notMine = false;

  // The page after a Save of notes someone else had typed on this device names their copy: forget it,
  // for this workshop only (the key ends with the workshop's id, as this form's own key does).
  var thisWorkshop = /:(\d+)$/.exec(form.getAttribute("data-draft-key") || "");
  if (storage && thisWorkshop) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-draft-saved]"), function (el) {
      var key = el.getAttribute("data-draft-saved") || "";
      var match = /^eventapp-notes-draft:\d+:(\d+)$/.exec(key);
      if (match && match[1] === thisWorkshop[1]) {
        try { storage.removeItem(key); } catch (e) { /* nothing to do */ }
      }
    });
  }

  function fields() {
    var out = [];
    new FormData(form).forEach(function (value, key) {
      if (!NOT_TEXT[key]) { out.push([key, String(value)]); }
    });
    return out;
  }

  function snapshot() {
    return fields().map(function (pair) { return pair[0] + "=" + pair[1]; }).join("\u0000");
  }

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

  // --- the copy kept on this device ---------------------------------------------------

  function readDraft() {
    if (!storage || !draftKey) { return null; }
    try {
      var draft = JSON.parse(storage.getItem(draftKey) || "null");
      if (!draft || !draft.fields || Date.now() - draft.at > DRAFT_DAYS * 86400000) { return null; }
      if (draft.user !== undefined && String(draft.user) !== user) { return null; }
      return draft;
    } catch (e) {
      return null;
    }
  }

  function keepDraft() {
    if (!storage || !draftKey || notMine || signedOut()) { return; }
    try {
      var value = JSON.stringify({
        at: Date.now(), version: version ? version.value : "0", unanswered: unansweredKeys, fields: fields(),
        user: user, page: location.pathname + location.search, name: form.getAttribute("data-draft-name") || document.title
      });
      storage.setItem(draftKey, value);
      lastKept = value;
    } catch (e) { /* full: the page and autosave still hold the text */ }
  }

  function dropDraft() {
    if (storage && draftKey) {
      try { storage.removeItem(draftKey); } catch (e) { /* nothing to do */ }
      lastKept = null;
    }
  }

  function sameAsDraft(draft) {
    return draft.fields.map(function (pair) { return pair[0] + "=" + pair[1]; }).join("\u0000") === snapshot();
  }

  function restore(draft) {
    var values = {};
    draft.fields.forEach(function (pair) { values[pair[0]] = pair[1]; });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || NOT_TEXT[el.name]) { return; }
      if (el.type === "checkbox") {
        el.checked = Object.prototype.hasOwnProperty.call(values, el.name);
      } else if (el.tagName === "TEXTAREA" || el.type === "text") {
        el.value = values[el.name] || "";
      }
    });
    // The version it was typed on: a save made since by someone else is then a conflict to merge.
    if (version && draft.version !== undefined) { version.value = String(draft.version); }
    remember(draft.unanswered || []);
  }

  var saved = snapshot();
  var restored = false;
  var draft = readDraft();
  if (draft) {
    if (sameAsDraft(draft)) {
      dropDraft();  // the server has it (a Save that went through)
    } else if (form.hasAttribute("data-restore-draft")) {
      restore(draft);
      restored = true;
      say("Text you typed on this device that had not been saved yet was put back. Saving it now.", false);
    }
  }

  // --- autosave ---------------------------------------------------------------------------

  function transient(code) {
    return code === 0 || code === 408 || code === 429 || code >= 500;
  }

  function tick() {
    if (stopped || busy || submitting) { return; }
    var current = snapshot();
    if (current === saved) { return; }
    busy = true;
    var key = newKey();
    remember(unansweredKeys.concat([key]));
    var body = new FormData(form);
    body.set("save_key", key);
    var kept = storage && draftKey ? " It is also kept on this device." : "";
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
        if (snapshot() === current) { dropDraft(); } else { keepDraft(); }
        var time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
        say((restored ? "Text you typed on this device that had not been saved yet was put back. " : "") +
            "Draft saved automatically at " + time + ".", false);
        restored = false;
      } else if (transient(result.code)) {
        // A proxy or a restarting server: the save may or may not have been stored. Try again.
        keepDraft();
        if (stopped) { return; }  // signed out meanwhile: that message stands
        say("The server did not answer (error " + result.code + "): your text is still on this page and " +
            "autosave will try again." + kept, true);
      } else {
        // A conflict, a lapsed sign-in or an expired page: the Save button handles
        // each of them without losing text, so stop and say so.
        stopped = true;
        remember(unansweredKeys.filter(function (k) { return k !== key; }));
        if (result.data && result.data.error === "typed_by") { notMine = true; } else { keepDraft(); }
        say((result.data && result.data.message) || "Autosave has stopped. Press Save to keep your text.", true);
      }
    }).catch(function () {
      keepDraft();
      if (stopped) { return; }  // signed out meanwhile: that message stands
      say("No connection: your text is still on this page and autosave will try again." + kept, true);
    }).then(function () {
      busy = false;
    });
  }

  function typed() {
    if (snapshot() !== saved) { keepDraft(); }
  }

  // Sign out chose to delete what is kept here: stop keeping and saving it, and do not ask "Leave site?".
  document.addEventListener("eventapp:drafts-deleted", function () {
    storage = null;
    stopped = true;
    submitting = true;
  });
  // Signed out in another tab (or in this one, before Back brought this page back): stop keeping the text on
  // this device and take back the copy this page stored (unless a page opened after signing in again has
  // stored its own since). The text stays on screen, and "Leave site?" still protects it: Save sends it to
  // the sign-in-again page, which keeps it.
  if (storage && draftKey) {
    signedOut = window.eventappStorage.watchSignOut(storage, user, function () {
      try {
        if (storage && lastKept !== null && storage.getItem(draftKey) === lastKept) { storage.removeItem(draftKey); }
      } catch (e) { /* nothing to do */ }
      storage = null;
      stopped = true;
      say("You have signed out, so autosave has stopped and what you type here is no longer kept on this " +
          "device. It is still on this page: save it, and you will be asked to sign in again.", true);
    });
  }
  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
  form.addEventListener("submit", function () { keepDraft(); submitting = true; });
  // Back after a Save that never arrived: the page returns as it was, flag included.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { submitting = false; }
  });
  window.addEventListener("online", function () { window.setTimeout(tick, 0); });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && snapshot() !== saved) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.setInterval(tick, INTERVAL_MS);
  if (snapshot() !== saved) { window.setTimeout(tick, 0); }
}());
