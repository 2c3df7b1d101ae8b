/* mapaid: draws the posts of /near/<cell> from the page's JSON (one small blob instead of a folium
 * Marker per post). Popups are built from text nodes: a post's text is data, never markup. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mapaid-posts").textContent);
  var map = window[data.map];
  var posts = data.posts;
  var labels = data.labels;
  var view = data.view;
  L.polygon(view.origin, view.originStyle).addTo(map);
  L.circle(view.centre, Object.assign({radius: view.radius, interactive: false}, view.reachStyle)).addTo(map);
  map.invalidateSize();  // the pane may have been laid out after the map was made
  map.fitBounds(view.bounds, {animate: false});
  var cluster = L.markerClusterGroup({maxClusterRadius: 35, showCoverageOnHover: false});
  var index = {};
  var list = document.querySelector("ol.posts[data-report-url]");

  function line(parent, tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) { element.className = className; }
    parent.appendChild(element);
    return element;
  }

  function popup(i) {
    var box = document.createElement("div");
    box.className = "popup";
    var head = labels.kinds[posts.kind[i]] + " · " + (labels.categories[posts.category[i]] || posts.category[i]);
    line(box, "strong", head);
    line(box, "p", posts.text[i], "post-text");
    if (posts.contact[i]) { line(box, "p", posts.contact[i], "contact"); }
    line(box, "div", (posts.minutes[i] === 0 ? labels.here : labels.walk.replace("{m}", posts.minutes[i])) + " · " + posts.district[i] + " · " +
      labels.expires.replace("{d}", posts.expires[i]), "post-meta");
    if (list) {  // "report": to the report page, which asks why (the list's own links do the same)
      var report = line(box, "a", list.getAttribute("data-report-label"), "report");
      report.href = list.getAttribute("data-report-url") + encodeURIComponent(posts.id[i]) +
        "?back=" + encodeURIComponent(list.getAttribute("data-report-back"));
    }
    return box;
  }

  for (var i = 0; i < posts.id.length; i++) {
    var colour = data.colours[posts.kind[i]] || "#555";
    var marker = L.circleMarker([posts.lat[i], posts.lon[i]],
      {radius: 7, weight: 1.5, color: "#ffffff", fillColor: colour, fillOpacity: 0.9});
    marker.bindPopup(popup.bind(null, i));
    index[posts.id[i]] = i;
    cluster.addLayer(marker);
  }
  map.addLayer(cluster);

  // "show on map" from the list: bring the map into view (on a phone it may be folded away by the map/list
  // switch, or scrolled off), then open the post's popup where it is drawn, clustered or not.
  function bringMapIntoView() {
    var pane = map.getContainer().closest(".map-pane") || map.getContainer();
    var mapButton = document.querySelector(".view-switch button[data-show=map]");
    if (mapButton && mapButton.getAttribute("aria-pressed") !== "true") { mapButton.click(); }
    var box = pane.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) { pane.scrollIntoView({block: "start"}); }
    map.invalidateSize();
  }

  document.querySelectorAll("[data-post]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var i = index[link.getAttribute("data-post")];
      if (i === undefined) { return; }
      event.preventDefault();
      bringMapIntoView();
      var at = L.latLng(posts.lat[i], posts.lon[i]);
      map.setView(at, Math.max(map.getZoom(), 16), {animate: false});
      L.popup({autoPanPadding: [12, 12]}).setLatLng(at).setContent(popup(i)).openOn(map);
    });
  });
}());
