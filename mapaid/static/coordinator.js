/* mapaid coordinator pages: small enhancements over pages that work without script.
 * 1. A moderation action reloads the list at its post's row (#post-<id>); the browser would put that row at
 *    the top of the window. Here the row comes back where it was on the screen: before the form is sent its
 *    distance from the top of the window is kept in sessionStorage (this tab only), and after the reload
 *    the page is scrolled by the difference.
 * 2. A wide table scrolls inside its own box; the box says so ("overflowing") when it is wider than the
 *    screen, and its hint shows. */
(function () {
  "use strict";
  var KEY = "mapaid-moderation-row";
  var ACTION = /\/coordinator\/posts\/([^\/]+)\/[a-z]+$/;

  function remember(event) {
    var form = event.target;
    var match = ACTION.exec(form.getAttribute("action") || "");
    if (!match) { return; }
    var row = document.getElementById("post-" + decodeURIComponent(match[1]));
    if (!row) { return; }
    try {
      sessionStorage.setItem(KEY, JSON.stringify({id: row.id, top: row.getBoundingClientRect().top}));
    } catch (e) { /* storage refused: the anchor alone still brings the row into view */ }
  }

  function restore() {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
      sessionStorage.removeItem(KEY);
    } catch (e) { return; }
    if (!saved || location.hash !== "#" + saved.id) { return; }
    var row = document.getElementById(saved.id);
    if (!row) { return; }
    window.scrollBy(0, row.getBoundingClientRect().top - saved.top);
  }

  function overflowing() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      box.classList.toggle("overflowing", box.scrollWidth > box.clientWidth + 1);
    });
  }

  document.addEventListener("submit", remember, true);
  if (document.readyState === "complete") { restore(); } else { window.addEventListener("load", restore); }
  overflowing();
  window.addEventListener("resize", overflowing);
}());
