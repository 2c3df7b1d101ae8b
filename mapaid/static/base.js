/* mapaid: what every page does. Loaded in <head> (a file from our host, so the strict policy lets it run):
 * it marks the page as scripted before anything is drawn, so the narrow-screen menu starts folded only
 * when the button that unfolds it works; without scripts the navigation simply stays in view. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function menu() {
    var button = document.getElementById("menu-button");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) { return; }
    function set(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      document.documentElement.classList.toggle("menu-open", open);
    }
    button.addEventListener("click", function () { set(button.getAttribute("aria-expanded") !== "true"); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") { set(false); button.focus(); }
    });
  }

  /* Quick exit (issue 18, item 4): the blank page takes this page's place in the history, so Back does
   * not lead back here. The link's own href is the fallback when this script does not run. */
  function quickExit() {
    var link = document.getElementById("quick-exit");
    if (!link) { return; }
    link.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.replace(link.href);
    });
  }

  function start() { menu(); quickExit(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
