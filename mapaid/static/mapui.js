/* mapaid: how every map behaves on the page around it. Loaded after each map's script (maps.MapParts).
 * - On touch screens one finger scrolls the page and two move the map ("gesture handling"): Leaflet's
 *   dragging is off until a second finger lands, and a one-finger drag over the map shows a short hint.
 *   Pinch zoom is Leaflet's own and keeps working; a tap is still a click.
 * - The credits fold into a "©" button (keyboard reachable), so they no longer cover the scale or legend;
 *   the place search's licence credits fold in with them.
 * - The map has a name for screen readers, and the map/list switch of narrow screens works.
 * Words come from base.html's JSON block (translated on the server); everything is set as text. */
(function () {
  "use strict";
  var ui = JSON.parse(document.getElementById("mapaid-ui").textContent);
  var touch = navigator.maxTouchPoints > 0 && window.matchMedia("(pointer: coarse)").matches;

  function hint(map) {
    var box = L.DomUtil.create("div", "mapaid-hint", map.getContainer());
    box.setAttribute("aria-hidden", "true");
    box.textContent = ui.twoFingers;
    var timer = null;
    return function () {
      box.classList.add("shown");
      clearTimeout(timer);
      timer = setTimeout(function () { box.classList.remove("shown"); }, 1500);
    };
  }

  function gestures(map) {
    var container = map.getContainer();
    var show = hint(map);
    var start = null;
    map.dragging.disable();
    container.addEventListener("touchstart", function (event) {
      if (event.touches.length >= 2) { map.dragging.enable(); start = null; return; }
      start = [event.touches[0].clientX, event.touches[0].clientY];
    }, {passive: true});
    container.addEventListener("touchmove", function (event) {
      if (event.touches.length !== 1 || !start) { return; }
      var dx = event.touches[0].clientX - start[0], dy = event.touches[0].clientY - start[1];
      if (dx * dx + dy * dy > 100) { show(); start = null; }
    }, {passive: true});
    function up(event) {
      if (event.touches.length < 2 && map.dragging.enabled()) { map.dragging.disable(); }
    }
    container.addEventListener("touchend", up, {passive: true});
    container.addEventListener("touchcancel", up, {passive: true});
  }

  var Credits = L.Control.extend({
    options: {position: "bottomright"},
    onAdd: function (map) {
      var attribution = map.attributionControl && map.attributionControl.getContainer();
      var wrap = L.DomUtil.create("div", "leaflet-bar mapaid-credits");
      var button = L.DomUtil.create("button", "mapaid-credits-button", wrap);
      button.type = "button";
      button.textContent = "©";
      button.setAttribute("aria-label", ui.credits);
      button.setAttribute("aria-expanded", "false");
      if (attribution) {
        attribution.id = attribution.id || map.getContainer().id + "-credits";
        attribution.classList.add("mapaid-folded");
        button.setAttribute("aria-controls", attribution.id);
      }
      // The place search's licence credits (OSM/ODbL, Metro4all) join the map's behind the same "©"
      // (issue 18, item 4): kept in their own element, which Leaflet's attribution updates never rewrite.
      // Without scripts they stay under the search box.
      var places = document.querySelector(".place-search .place-credits");
      if (places && attribution) {
        places.id = places.id || map.getContainer().id + "-place-credits";
        places.classList.add("mapaid-folded", "mapaid-place-credits");
        wrap.appendChild(places);
        button.setAttribute("aria-controls", attribution.id + " " + places.id);
      }
      L.DomEvent.disableClickPropagation(wrap);
      L.DomEvent.on(button, "click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", open ? "true" : "false");
        if (attribution) { attribution.classList.toggle("mapaid-folded", !open); }
        if (places && attribution) { places.classList.toggle("mapaid-folded", !open); }
      });
      return wrap;
    }
  });

  function label(map) {
    var container = map.getContainer();
    container.setAttribute("role", "region");
    container.setAttribute("aria-label", container.getAttribute("aria-label") || ui.mapKeys);
    // Leaflet's zoom buttons are links with a glyph; their titles become their names.
    container.querySelectorAll(".leaflet-control-zoom a").forEach(function (a) {
      a.setAttribute("role", "button");
      if (a.title) { a.setAttribute("aria-label", a.title); }
    });
  }

  function setUp(element) {
    var map = window[element.getAttribute("data-map")];
    if (!map || map._mapaidUi) { return; }
    map._mapaidUi = true;
    label(map);
    new Credits().addTo(map);
    if (touch) { gestures(map); }
  }

  document.querySelectorAll("script.mapaid-layers").forEach(setUp);

  // The map/list switch of narrow screens (near.html): "List" folds the map away, "Map" brings it back.
  document.querySelectorAll(".view-switch").forEach(function (group) {
    var layout = document.getElementById(group.getAttribute("data-for"));
    if (!layout) { return; }
    var buttons = group.querySelectorAll("button[data-show]");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var show = button.getAttribute("data-show");
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
        layout.classList.toggle("show-list", show === "list");
        if (show === "map") {
          var pane = layout.querySelector(".folium-map");
          var map = pane && window[pane.id];
          if (map) { map.invalidateSize(); }
        }
      });
    });
  });
}());
