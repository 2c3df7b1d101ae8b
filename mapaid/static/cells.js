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
    var shape = L.polygon(cell[1], Object.assign({className: "mapaid-cell"}, styleOf(id)));
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
    if (!chosen && !suggested) { say(config.labels.pick); }
    var bounds = map.getBounds();
    config.chunks.forEach(function (chunk) { if (overlaps(chunk, bounds)) { load(chunk[0]); } });
  }

  function choose(id) {
    if (config.mode === "go") {
      window.location.assign(config.nearUrl + id);
      return;
    }
    var previous = chosen;
    chosen = id;
    if (previous && shapes[previous]) { shapes[previous].setStyle(styleOf(previous)); }
    if (field) { field.value = id; }
    if (shapes[id]) { shapes[id].setStyle(styleOf(id)); }
    say(config.labels.chosen + " " + named(id));
  }

  // Keyboard: with the map focused and hexagons drawn, the arrow keys move a highlighted "cursor" hexagon
  // among them (to the nearest one in that direction on screen) and Enter chooses it; zoomed out, Enter
  // zooms in to where hexagons show. The status line (role=status) says what happens. Leaflet's own arrow
  // panning listens on the document, so a captured key stops here.
  var cursor = null;
  var cursorStyle = {color: "#b45309", weight: 4, opacity: 1, fillColor: "#f59e0b", fillOpacity: 0.35};
  var STEPS = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};

  function centreOf(id) {
    var ring = rings[id], lat = 0, lon = 0;
    ring.forEach(function (p) { lat += p[0]; lon += p[1]; });
    return L.latLng(lat / ring.length, lon / ring.length);
  }

  function styleOf(id) { return id === cursor ? cursorStyle : (id === chosen || id === suggested ? picked : idle); }

  function moveCursor(id) {
    var previous = cursor;
    cursor = id;
    if (previous && shapes[previous]) { shapes[previous].setStyle(styleOf(previous)); }
    shapes[id].setStyle(cursorStyle);
    shapes[id].bringToFront();
    map.panInside(centreOf(id), {padding: [48, 48], animate: false});
    say(config.labels.cursor);
  }

  function step(direction) {
    var ids = Object.keys(shapes);
    if (!ids.length) { say(config.labels.pick); return; }
    var from = cursor ? map.latLngToContainerPoint(centreOf(cursor)) : map.getSize().divideBy(2);
    var best = null, bestScore = Infinity;
    ids.forEach(function (id) {
      if (id === cursor) { return; }
      var p = map.latLngToContainerPoint(centreOf(id)), dx = p.x - from.x, dy = p.y - from.y;
      var across = 0;
      if (cursor) {  // the first press takes the hexagon nearest the middle; later ones step that way
        var along = dx * direction[0] + dy * direction[1];
        across = Math.abs(dx * direction[1] - dy * direction[0]);
        if (along <= 2 || across > along) { return; }
      }
      var score = dx * dx + dy * dy + across * across;
      if (score < bestScore) { best = id; bestScore = score; }
    });
    if (best) { moveCursor(best); }
  }

  map.getContainer().addEventListener("focus", function () {
    say(map.getZoom() < config.minZoom ? config.labels.keysZoom : config.labels.keys);
  });
  map.getContainer().addEventListener("keydown", function (event) {
    if (event.target !== map.getContainer() || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (map.getZoom() < config.minZoom) {
      if (event.key === "Enter") { event.preventDefault(); map.setZoom(config.minZoom, {animate: false}); say(config.labels.keys); }
      return;
    }
    if (STEPS[event.key]) {
      event.preventDefault();
      event.stopPropagation();
      step(STEPS[event.key]);
    } else if ((event.key === "Enter" || event.key === " ") && cursor) {
      event.preventDefault();
      choose(cursor);
    }
  }, true);

  function inside(lat, lon, ring) {
    var hit = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][0], xi = ring[i][1], yj = ring[j][0], xj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }

  // The hexagon holding a point, once the chunks around it are loaded (null outside the served area).
  function holding(lat, lon) {
    var wanted = config.chunks.filter(function (c) { return lon >= c[1] && lon <= c[3] && lat >= c[2] && lat <= c[4]; });
    return Promise.all(wanted.map(function (c) { return load(c[0]); })).then(function () {
      return Object.keys(rings).filter(function (id) { return inside(lat, lon, rings[id]); })[0] || null;
    });
  }

  function locate(position) {
    holding(position.coords.latitude, position.coords.longitude).then(function (found) {
      if (!found) { say(config.labels.outside); return; }
      if (config.mode === "pick") { map.fitBounds(L.latLngBounds(rings[found]), {maxZoom: 16}); }
      choose(found);
    });
  }

  // The place search found her address (places.js): its hexagon is marked as hers, with the words it
  // gives. On the posting form it is chosen (she can still tap another); on a map that leads to /near
  // it is only marked, and a tap on it goes there.
  var suggested = null;
  window.mapaidCells = {
    suggest: function (lat, lon, words) {
      return holding(lat, lon).then(function (found) {
        if (!found) { say(config.labels.outside); return null; }
        if (config.mode === "go") {
          var previous = suggested;
          suggested = found;
          if (previous && shapes[previous]) { shapes[previous].setStyle(styleOf(previous)); }
          shapes[found].setStyle(styleOf(found));
          shapes[found].bringToFront();
        } else {
          choose(found);
        }
        window.mapaidCells.suggested = found;
        say(words);
        return found;
      });
    },
    suggested: null
  };

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
