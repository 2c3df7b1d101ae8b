/* mapaid: our own street map under the hexagons: named streets (names from zoom 16), metro lines and
 * stations (an "M" and the station's name), from /basemap/<lang>.json (views/basemap.py), one cacheable
 * request the same for everyone. Names are data: they reach the page as text nodes only. */
(function () {
  "use strict";
  var STREET_NAMES_ZOOM = 16;
  var STREETS_ZOOM = 12;
  var STATION_NAMES_ZOOM = 13;

  function text(tag, value, className) {
    var element = document.createElement(tag);
    element.textContent = value;
    if (className) { element.className = className; }
    return element;
  }

  // A point on the street to hang its name on: the middle vertex of its longest part.
  function middle(parts) {
    var longest = parts.reduce(function (a, b) { return b.length > a.length ? b : a; });
    return longest[Math.floor(longest.length / 2)];
  }

  function pane(map, name, zIndex) {
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = zIndex;  // a DOM property, not an inline style attribute in markup
      map.getPane(name).style.pointerEvents = "none";
    }
    return name;
  }

  function draw(map, spec, data) {
    var streetPane = pane(map, "mapaid-streets", 390);  // under the overlay pane (districts, hexagons: 400)
    var metroPane = pane(map, "mapaid-metro", 590);  // over hexagons, under markers (600)
    var streets = L.layerGroup();
    var names = L.layerGroup();
    var metro = L.layerGroup();
    var labelPane = pane(map, "mapaid-labels", 595);

    // A name on the map: a marker whose icon is a text node (not a Leaflet tooltip, which pages keep for
    // what the pointer is over), never interactive, so taps reach the hexagons under it.
    function label(at, name, className) {
      return L.marker(at, {pane: labelPane, interactive: false, keyboard: false,
        icon: L.divIcon({className: className, html: text("span", name), iconSize: null})});
    }
    var stationNames = L.layerGroup();
    data.streets.forEach(function (street) {
      var line = L.polyline(street[1], {pane: streetPane, interactive: false, color: "#8a94a3", weight: 2,
        opacity: 0.9, className: "mapaid-street"});
      streets.addLayer(line);
      if (street[0]) { names.addLayer(label(middle(street[1]), street[0], "mapaid-street-name")); }
    });
    data.lines.forEach(function (line) {
      metro.addLayer(L.polyline(line[1], {pane: metroPane, interactive: false, color: line[0], weight: 3,
        opacity: 0.7, className: "mapaid-metro-line"}));
    });
    data.stations.forEach(function (station) {
      var badge = text("span", "M");
      var marker = L.marker(station[1], {pane: metroPane, interactive: false, keyboard: false,
        icon: L.divIcon({className: "mapaid-metro-icon", html: badge, iconSize: [18, 18]})});
      badge.style.backgroundColor = station[2];  // the line's colour, through the CSSOM (no style="")
      metro.addLayer(marker);
      stationNames.addLayer(label(station[1], station[0], "mapaid-station-name"));
    });
    function show(layer, on) {
      if (on && !map.hasLayer(layer)) { layer.addTo(map); }
      if (!on && map.hasLayer(layer)) { map.removeLayer(layer); }
    }
    function refresh() {
      var zoom = map.getZoom();
      show(streets, zoom >= STREETS_ZOOM);
      show(names, zoom >= STREET_NAMES_ZOOM);
      show(stationNames, zoom >= STATION_NAMES_ZOOM);
    }
    metro.addTo(map);
    map.attributionControl.addAttribution(escapeHtml(spec.attribution));
    map.on("zoomend", refresh);
    refresh();
    map.mapaidBasemap = {streets: streets, names: names, metro: metro, stationNames: stationNames,
      count: data.streets.length, stations: data.stations.length};
  }

  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  }

  document.querySelectorAll("script.mapaid-layers").forEach(function (element) {
    if (element.hasAttribute("data-basemap")) { return; }
    element.setAttribute("data-basemap", "");
    var spec = JSON.parse(element.textContent).basemap;
    var map = window[element.getAttribute("data-map")];
    if (!spec || !map) { return; }
    fetch(spec.url, {credentials: "omit"})
      .then(function (response) { return response.json(); })
      .then(function (data) { draw(map, spec, data); });
  });
}());
