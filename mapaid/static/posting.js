/* mapaid: the posting form and the private link page. No data reaches the page as markup: labels come
 * from data-* attributes and are set with textContent. Without JavaScript everything still works: the
 * error summary is at the top, Delete asks on a page of its own, and the link can be copied by hand. */
(function () {
  "use strict";

  // Errors: the summary at the top takes focus, so a screen reader reads it and the page scrolls to it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // A new post's page: the address bar shows the private link itself (no request is made), so a
  // reload, a bookmark or Back-and-Forward opens the link's own page and never /posted again.
  var box = document.querySelector("[data-private-url]");
  if (box && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", box.getAttribute("data-private-url"));
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
