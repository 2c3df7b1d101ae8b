/* mapaid: draws the posts of /near/<cell> from the page's JSON (one small blob instead of a folium
 * Marker per post). Popups are built from text nodes: a post's text is data, never markup.
 * The area drawn is the list's: the hexagons within reach, shaded by walking band (nearer is darker), so
 * every listed post sits inside it. Clusters take the colour of their kind; a mixed one shows both counts. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mapaid-posts").textContent);
  var map = window[data.map];
  var posts = data.posts;
  var labels = data.labels;
  var view = data.view;
  var reach = L.featureGroup();
  view.reach.forEach(function (cell) {
    reach.addLayer(L.polygon(cell[2], Object.assign({interactive: false, className: "mapaid-reach mapaid-band-" + cell[1]},
      view.bandStyles[cell[1]])));
  });
  reach.addTo(map);
  L.polygon(view.origin, view.originStyle).addTo(map);
  map.invalidateSize();  // the pane may have been laid out after the map was made
  map.fitBounds(view.bounds, {animate: false});

  function count(kind, n) {
    var element = document.createElement("span");
    element.className = "cluster-count cluster-" + kind;
    element.textContent = String(n);
    return element;
  }

  // A cluster's icon: one disc in its kind's colour, or an offer and a need count side by side.
  function clusterIcon(group) {
    var tally = {offer: 0, need: 0};
    group.getAllChildMarkers().forEach(function (marker) { tally[marker.options.kind] += 1; });
    var box = document.createElement("div");
    var kinds = tally.offer && tally.need ? "mixed" : (tally.need ? "need" : "offer");
    box.className = "cluster-box";
    if (tally.offer) { box.appendChild(count("offer", tally.offer)); }
    if (tally.need) { box.appendChild(count("need", tally.need)); }
    return L.divIcon({html: box, className: "mapaid-cluster mapaid-cluster-" + kinds,
      iconSize: kinds === "mixed" ? L.point(64, 44) : L.point(44, 44)});  // a tap target of 44 px at least
  }
  var cluster = L.markerClusterGroup({maxClusterRadius: 35, showCoverageOnHover: false, iconCreateFunction: clusterIcon});
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
    line(box, "div", labels.bands[posts.band[i]] + " · " + posts.district[i] + " · " +
      labels.expires.replace("{d}", posts.expires[i]), "post-meta");
    if (posts.reply[i]) {  // "I can help" / "I need this too": the post's own page, where the answer is written
      var answer = line(box, "a", labels.answer[posts.kind[i]], "button answer-button");
      answer.href = data.postUrl + encodeURIComponent(posts.id[i]);
    }
    if (posts.source && labels.sources) {  // how the walk was measured: by the streets, or the estimate
      line(box, "div", labels.sources[posts.source[i]] || "", "walk-source");
    }
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
      {radius: 7, weight: 1.5, color: "#ffffff", fillColor: colour, fillOpacity: 0.9, kind: posts.kind[i]});
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
