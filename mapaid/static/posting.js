/* mapaid: the posting form and the private link page. No data reaches the page as markup: labels come
 * from data-* attributes and are set with textContent. Without JavaScript everything still works: the
 * error summary is at the top, Delete asks on a page of its own, and the link can be copied by hand. */
(function () {
  "use strict";

  // Errors: the summary at the top takes focus, so a screen reader reads it and the page scrolls to it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // Private replies (docs/replies.md): on submit the browser makes the post's key pair, sends only the
  // public half (the hidden field reply_key) and keeps the private half in sessionStorage for the one
  // redirect to /posted, which puts it into the private link's fragment and removes the entry. No key
  // (no WebCrypto, no sessionStorage, or a failure) means the post simply takes no replies.
  var KEY_ENTRY = "mapaid-new-post-key";
  var crypto = window.mapaidReplyCrypto;
  function storage() {
    try { return window.sessionStorage; } catch (error) { return null; }  // some privacy modes refuse it
  }
  function takeEntry() {
    var store = storage();
    if (!store) { return null; }
    var entry = null;
    try { entry = JSON.parse(store.getItem(KEY_ENTRY) || "null"); } catch (error) { entry = null; }
    store.removeItem(KEY_ENTRY);
    return entry;
  }
  var form = document.querySelector("form.post");
  var replyKey = document.getElementById("reply_key");
  if (form && replyKey) {
    takeEntry();  // nothing left over from an earlier form
    var keyed = false;
    window.addEventListener("pageshow", function () { keyed = false; replyKey.value = ""; });
    form.addEventListener("submit", function (event) {
      var store = storage();
      if (keyed || !crypto || !crypto.available || !store) { return; }
      event.preventDefault();
      if (form.classList.contains("keying")) { return; }  // a second click while the key is being made
      form.classList.add("keying");
      crypto.preferredCurve().then(crypto.generate).then(function (pair) {
        store.setItem(KEY_ENTRY, JSON.stringify({private: pair.private, public: pair.public}));
        replyKey.value = pair.public;
      }).catch(function () { replyKey.value = ""; }).then(function () {
        keyed = true;
        form.classList.remove("keying");
        HTMLFormElement.prototype.submit.call(form);  // form.submit is the button named "submit"
      });
    });
  }

  // A new post's page: the address bar shows the private link itself (no request is made), so a
  // reload, a bookmark or Back-and-Forward opens the link's own page and never /posted again. The key
  // made on the form goes into its fragment when it is this post's (the page names the post's public key).
  var box = document.querySelector("[data-private-url]");
  var entry = form ? null : takeEntry();
  if (box && window.history && window.history.replaceState) {
    var url = box.getAttribute("data-private-url");
    var postKey = box.getAttribute("data-reply-key");
    if (entry && postKey && entry.public === postKey && /^[A-Za-z0-9_-]+$/.test(entry.private || "")) {
      url += "#k=" + entry.private;
    }
    window.history.replaceState(null, "", url);
  }

  var status = document.getElementById("copy-status");
  function say(key) { if (status) { status.textContent = status.getAttribute(key) || ""; } }

  var copy = document.getElementById("copy-link");
  if (copy && navigator.clipboard && navigator.clipboard.writeText) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(copy.getAttribute("data-url"))
        .then(function () { say("data-copied"); }, function () { say("data-failed"); });
    });
  }

  var share = document.getElementById("share-link");
  if (share && navigator.share) {
    share.hidden = false;
    share.addEventListener("click", function () {
      navigator.share({title: share.getAttribute("data-title"), url: share.getAttribute("data-url")})
        .catch(function () { /* the person closed the share sheet */ });
    });
  }

  // Delete asks first: in a dialog here; without JavaScript the server asks on a page of its own.
  var remove = document.getElementById("delete");
  var dialog = document.getElementById("delete-dialog");
  if (remove && dialog && typeof dialog.showModal === "function") {
    remove.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
    });
    document.getElementById("delete-no").addEventListener("click", function () { dialog.close(); });
  }
}());
