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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", menu);
  } else {
    menu();
  }
}());
