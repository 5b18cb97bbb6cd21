/* Keeps what is typed into an action form (or marked on the register) on this device until it is saved, and puts it back when
   the form is opened again (a tab closed or reloaded before Save, a dropped connection).
   Forms opt in with data-draft-key; data-restore-draft marks a form showing stored values (not a
   form sent back with errors, which already holds what was typed). An element with
   data-draft-saved names a draft the server has just stored, to forget it (each element one).
   A draft belongs to the person who typed it (<body data-user>; the key names them too): it is put back
   only for them, and sign-out.js deletes it when they sign out; from then on no page of theirs still open in
   another tab keeps a copy (storage.js, loaded first). data-draft-name says what it is. */
(function () {
  "use strict";
  var user = document.body.getAttribute("data-user");
  var KEY = /^eventapp-[a-z]+-draft:(\d+):/;
  if (!user || !window.eventappStorage) { return; }
  var storage = window.eventappStorage.open();
  if (!storage) { return; }
  var DRAFT_DAYS = 14;
  var NOT_TYPED = { csrf_token: true, version: true };
  var deleted = false;  // by Sign out, on this page or another: typing here no longer keeps a copy
  var written = {};  // key: what this page last stored under it
  var forms = [];

  function say(form, text) {
    // Said at the top of the form, where the person is typing: a status, not an alarm. Added empty and
    // filled a moment later (as flashes.js does): a live region that arrives with its text is not read out.
    var note = document.createElement("p");
    note.className = "autosave-status autosave-error";
    note.setAttribute("role", "status");
    form.insertBefore(note, form.firstChild);
    window.setTimeout(function () { note.textContent = text; }, 400);
  }

  document.addEventListener("eventapp:drafts-deleted", function () { deleted = true; });
  // Signed out in another tab (or in this one, before Back brought this page back): stop keeping copies, and
  // take back the ones this page stored (unless a page opened after signing in again has stored something
  // since under the same key). What is on screen stays.
  var signedOut = window.eventappStorage.watchSignOut(storage, user, function () {
    deleted = true;
    Object.keys(written).forEach(function (key) {
      try {
        if (storage.getItem(key) === written[key]) { storage.removeItem(key); }
      } catch (e) { /* nothing to do */ }
    });
    forms.forEach(function (form) {
      say(form, "You have signed out, so what you type here is no longer kept on this device. " +
        "It is still on this page: save it, and you will be asked to sign in again.");
    });
  });

  // The page after a save names the drafts it made stale: the person's own and, where the form was shown back
  // to them because someone else had typed it on this device (typed_by), that person's copy too, which must
  // not be put back to them when they next sign in here.
  Array.prototype.forEach.call(document.querySelectorAll("[data-draft-saved]"), function (el) {
    var saved = el.getAttribute("data-draft-saved") || "";
    if (KEY.test(saved)) {
      try { storage.removeItem(saved); } catch (e) { /* nothing to do */ }
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-key]"), function (form) {
    var key = form.getAttribute("data-draft-key");
    var owner = KEY.exec(key || "");
    if (!owner || owner[1] !== user) { return; }  // not a key of the person signed in: leave it alone
    var version = form.querySelector("input[name=version]");
    forms.push(form);

    function fields() {
      var out = [];
      new FormData(form).forEach(function (value, name) {
        if (!NOT_TYPED[name]) { out.push([name, String(value)]); }
      });
      return out;
    }

    function text(list) {
      return list.map(function (pair) { return pair[0] + "=" + pair[1]; }).join("\u0000");
    }

    var shown = text(fields());

    function names() {
      var out = [];
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && !NOT_TYPED[el.name] && out.indexOf(el.name) === -1) { out.push(el.name); }
      });
      return out;
    }

    function keep() {
      var now = fields();
      if (deleted || signedOut()) { return; }
      try {
        if (text(now) === shown) {
          storage.removeItem(key);
          delete written[key];
        } else {
          // The names too: a box left unticked is then told from one that was not on the form.
          var value = JSON.stringify({ at: Date.now(), version: version ? version.value : "", fields: now,
                                       names: names(), user: user, page: location.pathname + location.search,
                                       name: form.getAttribute("data-draft-name") || document.title });
          storage.setItem(key, value);
          written[key] = value;
        }
      } catch (e) { /* full: the page still holds the text */ }
    }

    var draft = null;
    try { draft = JSON.parse(storage.getItem(key) || "null"); } catch (e) { draft = null; }
    if (draft && (!draft.fields || Date.now() - draft.at > DRAFT_DAYS * 86400000 ||
                  (draft.user !== undefined && String(draft.user) !== user))) {
      storage.removeItem(key);
      draft = null;
    }
    if (draft && form.hasAttribute("data-restore-draft") && text(draft.fields) !== shown) {
      var values = {};
      draft.fields.forEach(function (pair) {
        (values[pair[0]] = values[pair[0]] || []).push(pair[1]);
      });
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || NOT_TYPED[el.name]) { return; }
        if (draft.names && draft.names.indexOf(el.name) === -1) { return; }  // new on the page since: as shown
        var mine = values[el.name] || [];
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = mine.indexOf(el.value) !== -1;
        } else if (el.type === "hidden") {
          // What the page showed when it was typed (the register's was- marks): a change made
          // elsewhere since is then reported, not overwritten.
          if (mine.length) { el.value = mine[0]; }
        } else if (el.tagName === "SELECT" || el.tagName === "TEXTAREA" || el.type === "text" || el.type === "date") {
          el.value = mine.length ? mine[0] : "";
        }
      });
      // The version it was typed on: a change saved since by someone else is then shown, not overwritten.
      if (version && draft.version) { version.value = draft.version; }
      say(form, "What you typed here earlier on this device had not been saved. It has been put back: " +
        "check it and save it.");
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    Array.prototype.forEach.call(form.querySelectorAll("[data-drop-draft]"), function (link) {
      link.addEventListener("click", function () { storage.removeItem(key); });
    });
  });
}());
