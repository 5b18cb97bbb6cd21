/* Signing out on a shared tablet: what a facilitator typed but has not saved (kept on this device by
   drafts.js and notes.js, under keys naming who typed it) must neither stay behind for the next person
   nor disappear without a word. Loaded on every page shown to someone signed in; <body data-user>
   names them.
   - Sign out with none of this person's drafts on the device: signs out at once.
   - With some: the page says how many and where they are, and offers "Stay signed in" or "Sign out and
     delete them". Only the second deletes them (and then signs out).
   Drafts of other people (a colleague whose sign-in ended on this tablet) are left alone: they are put
   back only for that person. Any draft past its 14 days is deleted here, whoever typed it.
   Either way this person's pages still open in other tabs stop keeping drafts at once (storage.js, loaded
   first), so nothing typed there afterwards stays behind either; what they show stays on screen.
   Without JavaScript (or storage) nothing is kept on the device, and Sign out is a plain form. */
(function () {
  "use strict";
  var user = document.body.getAttribute("data-user");
  if (!user || !window.eventappStorage) { return; }
  var storage = window.eventappStorage.open();
  if (!storage) { return; }
  var DRAFT_DAYS = 14;
  var KEY = /^eventapp-[a-z]+-draft:(\d+):/;

  // This person's drafts, oldest first; drafts past their days (anyone's) are deleted on the way.
  function mine() {
    var out = [];
    var keys = [];
    var i;
    for (i = 0; i < storage.length; i += 1) { keys.push(storage.key(i)); }
    keys.forEach(function (key) {
      var match = KEY.exec(key || "");
      if (!match) { return; }
      var draft = null;
      try { draft = JSON.parse(storage.getItem(key) || "null"); } catch (e) { draft = null; }
      if (!draft || !draft.fields || !(Date.now() - draft.at <= DRAFT_DAYS * 86400000)) {
        try { storage.removeItem(key); } catch (e) { /* nothing to do */ }
        return;
      }
      if (match[1] === user && (draft.user === undefined || String(draft.user) === user)) {
        out.push({ key: key, draft: draft });
      }
    });
    out.sort(function (a, b) { return a.draft.at - b.draft.at; });
    return out;
  }

  mine();  // the sweep of expired drafts

  var form = document.querySelector("form[data-sign-out]");
  if (!form) { return; }
  var button = form.querySelector("button[type=submit]");
  var confirmed = false;
  var panel = null;

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text) { el.textContent = text; }
    return el;
  }

  function close() {
    if (panel && panel.parentNode) { panel.parentNode.removeChild(panel); }
    panel = null;
  }

  function signOut(drafts) {
    drafts.forEach(function (item) {
      try { storage.removeItem(item.key); } catch (e) { /* nothing to do */ }
    });
    // This person's pages still open in other tabs stop keeping what is typed in them, and take back what
    // they kept (storage.js); this one also stops autosaving the text just deleted, and does not ask
    // "Leave site?" about it.
    window.eventappStorage.markSignedOut(storage, user);
    document.dispatchEvent(new CustomEvent("eventapp:drafts-deleted"));
    confirmed = true;
    HTMLFormElement.prototype.submit.call(form);
  }

  function warn(drafts) {
    close();
    var count = drafts.length;
    panel = element("div", "error-summary sign-out-warning");
    panel.id = "sign-out-warning";
    panel.setAttribute("role", "alert");
    panel.setAttribute("aria-labelledby", "sign-out-warning-title");
    panel.setAttribute("tabindex", "-1");
    var title = element("h2", "", count === 1 ? "You have 1 draft on this device that has not been saved"
                                              : "You have " + count + " drafts on this device that have not been saved");
    title.id = "sign-out-warning-title";
    panel.appendChild(title);
    panel.appendChild(element("p", "", "Signing out deletes " + (count === 1 ? "it" : "them") + " from this " +
      "device, so that the next person to use it cannot read " + (count === 1 ? "it" : "them") + ". What you " +
      "typed in " + (count === 1 ? "it" : "them") + " will then be lost. To keep " + (count === 1 ? "it" : "them") +
      ", stay signed in, open " + (count === 1 ? "it" : "each one") + " and save."));
    var list = element("ul");
    drafts.forEach(function (item) {
      var li = element("li");
      var name = item.draft.name || "A form";
      var when = new Date(item.draft.at).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
      if (item.draft.page) {
        var link = element("a", "", name);
        link.href = item.draft.page;
        li.appendChild(link);
        li.appendChild(document.createTextNode(" (typed " + when + ")"));
      } else {
        li.textContent = name + " (typed " + when + ")";
      }
      list.appendChild(li);
    });
    panel.appendChild(list);
    var choices = element("div", "actions");
    var stay = element("button", "button", "Stay signed in");
    stay.type = "button";
    stay.addEventListener("click", function () {
      close();
      if (button) { button.focus(); }
    });
    var leave = element("button", "button button-danger",
                        count === 1 ? "Sign out and delete it" : "Sign out and delete them");
    leave.type = "button";
    leave.addEventListener("click", function () { signOut(mine()); });
    choices.appendChild(stay);
    choices.appendChild(leave);
    panel.appendChild(choices);
    var main = document.getElementById("main") || document.body;
    main.insertBefore(panel, main.firstChild);
    panel.focus();
  }

  form.addEventListener("submit", function (event) {
    if (confirmed) { return; }
    var drafts = mine();
    if (drafts.length) {
      event.preventDefault();
      warn(drafts);
    } else {
      // Signing out now, nothing unsaved: pages of this person still open in other tabs stop keeping
      // what is typed in them from here on (storage.js).
      window.eventappStorage.markSignedOut(storage, user);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (panel && event.key === "Escape") {
      close();
      if (button) { button.focus(); }
    }
  });
}());
