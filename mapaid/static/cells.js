/* mapaid: the clickable hexagons on the city map and the posting form.
 * Cell outlines come from the server in coarse chunks (by parent cell); which hexagon was clicked, or
 * which one holds the browser's own location, is worked out here, so only a cell id is ever sent. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("mapaid-cells").textContent);
  var map = window[config.map];
  var status = document.getElementById("cell-status-text");
  var field = document.getElementById("cell");
  var layer = L.featureGroup();
  var loaded = {};   // chunk id -> Promise of its cells
  var rings = {};    // cell id -> [[lat, lon] x 6]
  var shapes = {};   // cell id -> L.Polygon
  var chosen = config.selected;
  var idle = {color: "#1d4ed8", weight: 1, opacity: 0.6, fillColor: "#1d4ed8", fillOpacity: 0.04};
  var picked = {color: "#1d4ed8", weight: 3, opacity: 1, fillColor: "#1d4ed8", fillOpacity: 0.35};

  function say(text) { if (status) { status.textContent = text; } }
  // A hexagon is named for people (its district, from the server) or as the one marked on the map;
  // its id stays in the hidden form field.
  function named(id) { return (config.names && config.names[id]) || config.labels.unnamed || id; }

  function overlaps(chunk, bounds) {
    return !(chunk[3] < bounds.getWest() || chunk[1] > bounds.getEast() ||
             chunk[4] < bounds.getSouth() || chunk[2] > bounds.getNorth());
  }

  function draw(cell) {
    var id = cell[0];
    if (shapes[id]) { return; }
    rings[id] = cell[1];
    var shape = L.polygon(cell[1], Object.assign({className: "mapaid-cell"}, id === chosen ? picked : idle));
    shape.on("click", function (event) { L.DomEvent.stop(event); choose(id); });
    shapes[id] = shape;
    layer.addLayer(shape);
  }

  function load(chunkId) {
    if (!loaded[chunkId]) {
      loaded[chunkId] = fetch(config.chunkUrl + chunkId + ".json", {credentials: "omit"})
        .then(function (response) { return response.json(); })
        .then(function (cells) { cells.forEach(draw); return cells; });
    }
    return loaded[chunkId];
  }

  function refresh() {
    if (map.getZoom() < config.minZoom) {
      if (map.hasLayer(layer)) { map.removeLayer(layer); }
      if (config.mode === "go" || !chosen) { say(config.labels.zoom); }
      return;
    }
    if (!map.hasLayer(layer)) { layer.addTo(map); }
    if (!chosen) { say(config.labels.pick); }
    var bounds = map.getBounds();
    config.chunks.forEach(function (chunk) { if (overlaps(chunk, bounds)) { load(chunk[0]); } });
  }

  function choose(id) {
    if (config.mode === "go") {
      window.location.assign(config.nearUrl + id);
      return;
    }
    if (chosen && shapes[chosen]) { shapes[chosen].setStyle(idle); }
    chosen = id;
    if (field) { field.value = id; }
    if (shapes[id]) { shapes[id].setStyle(picked); }
    say(config.labels.chosen + " " + named(id));
  }

  function inside(lat, lon, ring) {
    var hit = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][0], xi = ring[i][1], yj = ring[j][0], xj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }

  function locate(position) {
    var lat = position.coords.latitude, lon = position.coords.longitude;
    var wanted = config.chunks.filter(function (c) { return lon >= c[1] && lon <= c[3] && lat >= c[2] && lat <= c[4]; });
    Promise.all(wanted.map(function (c) { return load(c[0]); })).then(function () {
      var found = Object.keys(rings).filter(function (id) { return inside(lat, lon, rings[id]); })[0];
      if (!found) { say(config.labels.outside); return; }
      if (config.mode === "pick") { map.fitBounds(L.latLngBounds(rings[found]), {maxZoom: 16}); }
      choose(found);
    });
  }

  var button = document.getElementById("locate");
  if (button) {
    button.addEventListener("click", function () {
      if (!navigator.geolocation) { say(config.labels.noLocation); return; }
      say(config.labels.locating);
      navigator.geolocation.getCurrentPosition(locate, function () { say(config.labels.noLocation); },
        {enableHighAccuracy: false, timeout: 15000, maximumAge: 600000});
    });
  }
  map.on("click", function (event) {
    if (map.getZoom() < config.minZoom) { map.setZoomAround(event.latlng, Math.min(config.minZoom + 1, map.getZoom() + 2)); }
  });
  map.on("moveend", refresh);
  if (config.view) { map.fitBounds(config.view, {maxZoom: 15, animate: false}); }
  if (chosen) {
    if (field) { field.value = chosen; }
    say(config.labels.chosen + " " + named(chosen));
  }
  refresh();
}());
