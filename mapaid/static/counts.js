/* mapaid: signs of life on the home map: how many open offers and needs each area holds, from the public
 * /counts.json (the same for everyone; views/basemap.py): per district when zoomed out, per coarse cell in
 * between, per hexagon when zoomed in. Counts only, never where a post is. A tap on a hexagon's count opens
 * /near/<cell>; on a district's or coarse cell's count it zooms in there. Numbers reach the page as text. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("mapaid-counts").textContent);
  var map = window[config.map];
  var layer = L.layerGroup().addTo(map);
  var loaded = {};  // level -> Promise of its areas
  var shown = null;

  function level(zoom) {
    for (var i = 0; i < config.bands.length; i++) {
      if (zoom <= config.bands[i][0]) { return i; }
    }
    return config.bands.length - 1;
  }

  function fetchLevel(res) {
    if (!loaded[res]) {
      loaded[res] = fetch(config.url + "?res=" + encodeURIComponent(res), {credentials: "omit"})
        .then(function (response) { return response.json(); })
        .then(function (payload) { return payload.areas; });
    }
    return loaded[res];
  }

  function badge(area, last) {
    var box = document.createElement(last ? "a" : "span");
    box.className = "count-badge";
    var offers = document.createElement("span");
    offers.className = "count-offer";
    offers.textContent = String(area[1]);
    var needs = document.createElement("span");
    needs.className = "count-need";
    needs.textContent = String(area[2]);
    if (area[1]) { box.appendChild(offers); }
    if (area[2]) { box.appendChild(needs); }
    box.setAttribute("aria-label", config.labels.offers + ": " + area[1] + ", " + config.labels.needs + ": " + area[2]);
    if (last) { box.setAttribute("href", config.nearUrl + area[0]); }
    return box;
  }

  function draw(index, areas) {
    var band = config.bands[index];
    var last = index === config.bands.length - 1;
    layer.clearLayers();
    areas.forEach(function (area) {
      var marker = L.marker([area[3], area[4]], {
        icon: L.divIcon({className: "count-icon", html: badge(area, last), iconSize: null}),
        keyboard: !last, title: "", zIndexOffset: 500,
      });
      marker.on("click", function () {
        if (last) { window.location.assign(config.nearUrl + area[0]); return; }
        map.setView([area[3], area[4]], band[0] + 1);
      });
      marker.mapaidArea = area[0];
      layer.addLayer(marker);
    });
  }

  function refresh() {
    var index = level(map.getZoom());
    if (index === shown) { return; }
    shown = index;
    fetchLevel(config.bands[index][1]).then(function (areas) {
      if (shown === index) { draw(index, areas); }
    });
  }

  map.on("zoomend", refresh);
  refresh();
  map.mapaidCounts = layer;
}());
