/* mapaid: our own street map under the hexagons: streets with their names written along them (from zoom
 * 16), building outlines (from zoom 16, fetched the first time the map gets there), metro lines and stations
 * (an "M" and the station's name), from /basemap/<lang>.json (views/basemap.py), one cacheable request the
 * same for everyone. Names are data: they reach the page as text nodes only.
 *
 * Street names are placed here, not by a library: after every move, each street long enough on screen gets
 * its name along its line (SVG <textPath>), repeated every REPEAT_PX, on stretches straight enough to read,
 * always running left to right (never upside down), and only where it overlaps nothing else written: a
 * grid of boxes along each placed name, with the metro's names and badges, the map's controls and the
 * legend entered first. The place search (places.js) asks for a street to be highlighted:
 * mapaidHighlightStreet on the map. */
(function () {
  "use strict";
  var STREETS_ZOOM = 12;
  var STREET_NAMES_ZOOM = 16;
  var STATION_NAMES_ZOOM = 13;
  var BUILDINGS_ZOOM = 16;
  var REPEAT_PX = 340;      // one name per this much street on screen
  var MAX_BEND = 0.45;      // radians a name may turn from its chord (about 26 degrees)
  var PAD = 0.25;           // names are placed this share of the map's size beyond its edges, for panning
  var SVG = "http://www.w3.org/2000/svg";

  function text(tag, value, className) {
    var element = document.createElement(tag);
    element.textContent = value;
    if (className) { element.className = className; }
    return element;
  }

  function pane(map, name, zIndex) {
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = zIndex;  // a DOM property, not an inline style attribute in markup
      map.getPane(name).style.pointerEvents = "none";
    }
    return name;
  }

  // Names compared loosely (case, stress marks, spaces and punctuation aside), to find the street the
  // place search chose among the drawn ones: both come from the same names (mapaid/belnames.py).
  function loose(value) {
    return String(value).toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^\p{L}\p{N}]+/gu, "");
  }

  // The word for "street", "lane", "avenue" ... shortened as on printed maps, where the whole name does
  // not fit along a short stretch (be, ru, and the Belarusian Latin of English pages).
  var SHORT = {"вуліца": "вул.", "улица": "ул.", "vulica": "vul.", "завулак": "зав.", "переулок": "пер.",
    "zavulak": "zav.", "праспект": "пр.", "проспект": "пр.", "praspiekt": "prasp.", "плошча": "пл.",
    "площадь": "пл.", "plošča": "pl.", "праезд": "пр-д", "проезд": "пр-д", "prajezd": "praj.",
    "бульвар": "бул.", "bulʹvar": "bul."};
  function shortened(name) {
    var words = name.split(" ");
    for (var i = 0; i < words.length; i++) {
      var short = SHORT[words[i].toLowerCase()];
      if (short) {
        words[i] = words[i].charAt(0) === words[i].charAt(0).toUpperCase() ? short.charAt(0).toUpperCase() + short.slice(1) : short;
        return words.join(" ");
      }
    }
    return name;
  }

  // --- Collision grid: axis-aligned boxes [x0, y0, x1, y1] in buckets of CELL pixels. ---
  var CELL = 48;
  function Grid() { this.cells = {}; }
  Grid.prototype.keys = function (box, visit) {
    for (var gx = Math.floor(box[0] / CELL); gx <= Math.floor(box[2] / CELL); gx++) {
      for (var gy = Math.floor(box[1] / CELL); gy <= Math.floor(box[3] / CELL); gy++) {
        if (visit(gx + ":" + gy) === false) { return false; }
      }
    }
    return true;
  };
  Grid.prototype.free = function (box) {
    var cells = this.cells;
    return this.keys(box, function (key) {
      var list = cells[key] || [];
      for (var i = 0; i < list.length; i++) {
        var o = list[i];
        if (box[0] < o[2] && o[0] < box[2] && box[1] < o[3] && o[1] < box[3]) { return false; }
      }
      return true;
    });
  };
  Grid.prototype.add = function (box) {
    var cells = this.cells;
    this.keys(box, function (key) { (cells[key] = cells[key] || []).push(box); });
  };

  // --- Geometry along a polyline of points {x, y}. ---
  function lengths(points) {
    var acc = [0];
    for (var i = 1; i < points.length; i++) {
      acc.push(acc[i - 1] + Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y));
    }
    return acc;
  }

  function at(points, acc, s) {
    var i = 1;
    while (i < points.length - 1 && acc[i] < s) { i++; }
    var span = acc[i] - acc[i - 1] || 1, t = Math.max(0, Math.min(1, (s - acc[i - 1]) / span));
    return {x: points[i - 1].x + (points[i].x - points[i - 1].x) * t,
      y: points[i - 1].y + (points[i].y - points[i - 1].y) * t, i: i};
  }

  // The stretch of the line from distance a to b, as points.
  function stretch(points, acc, a, b) {
    var start = at(points, acc, a), end = at(points, acc, b), out = [{x: start.x, y: start.y}];
    for (var i = start.i; i < end.i; i++) { out.push(points[i]); }
    out.push({x: end.x, y: end.y});
    return out;
  }

  // The pieces of a line inside the area where names go (a long street's names spread over what shows).
  function runs(points, area) {
    var out = [], run = null;
    for (var i = 1; i < points.length; i++) {
      var piece = L.LineUtil.clipSegment(points[i - 1], points[i], area, false, false);
      if (!piece) { run = null; continue; }
      if (run && run[run.length - 1].equals(piece[0])) {
        run.push(piece[1]);
      } else {
        run = [piece[0], piece[1]];
        out.push(run);
      }
    }
    return out;
  }

  // Straight enough to read: no piece turns more than MAX_BEND from the line between its ends.
  function straight(points) {
    var first = points[0], last = points[points.length - 1];
    var chord = Math.atan2(last.y - first.y, last.x - first.x);
    for (var i = 1; i < points.length; i++) {
      var dx = points[i].x - points[i - 1].x, dy = points[i].y - points[i - 1].y;
      if (Math.hypot(dx, dy) < 2) { continue; }
      var turn = Math.abs(Math.atan2(dy, dx) - chord);
      if (Math.min(turn, 2 * Math.PI - turn) > MAX_BEND) { return false; }
    }
    return true;
  }

  // Boxes covering a name of height h written centred on the stretch: squares every h/2 along it.
  function boxes(points, h) {
    var acc = lengths(points), total = acc[acc.length - 1], out = [], half = h * 0.6;
    for (var s = 0; s <= total + 0.1; s += h / 2) {
      var p = at(points, acc, Math.min(s, total));
      out.push([p.x - half, p.y - half, p.x + half, p.y + half]);
    }
    return out;
  }

  function StreetLabels(map, streets, labelPane, stationLayers) {
    this.map = map;
    this.streets = streets;  // [{name, parts: [[L.LatLng]], bounds: [L.LatLngBounds]}]
    this.stationLayers = stationLayers;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "mapaid-street-labels");
    this.svg.setAttribute("aria-hidden", "true");  // the names are on the map for the eye; the search names streets for everyone
    map.getPane(labelPane).appendChild(this.svg);
    this.measure = document.createElement("canvas").getContext("2d");
    this.widths = {};
    this.first = null;  // the chosen street's index: named before the others
    this.prefix = "mapaid-street-path-" + L.stamp(map) + "-";  // ids unique however many maps a page has
  }

  StreetLabels.prototype.width = function (name, font) {
    var key = font + "|" + name;
    if (this.widths[key] === undefined) {
      this.measure.font = font;
      this.widths[key] = this.measure.measureText(name).width;
    }
    return this.widths[key];
  };

  StreetLabels.prototype.clear = function () {
    this.svg.replaceChildren();
    this.svg.setAttribute("width", "0");
    this.svg.setAttribute("height", "0");
  };

  // Boxes of what is already written on the map: metro badges and station names, the map's own controls
  // (zoom buttons, scale, credits) and the legend the page lays over it, in the svg's pixels.
  StreetLabels.prototype.taken = function (grid, shift) {
    var element = this.map.getContainer(), container = element.getBoundingClientRect();
    var over = Array.prototype.slice.call(element.querySelectorAll(".leaflet-control"));
    if (element.parentElement) {
      over = over.concat(Array.prototype.slice.call(element.parentElement.querySelectorAll(".map-legend")));
    }
    over.forEach(function (control) {
      var r = control.getBoundingClientRect();
      if (r.width && r.height) {
        grid.add([r.left - container.left + shift.x, r.top - container.top + shift.y,
          r.right - container.left + shift.x, r.bottom - container.top + shift.y]);
      }
    });
    this.stationLayers.forEach(function (layer) {
      if (!this.map.hasLayer(layer)) { return; }
      layer.eachLayer(function (marker) {
        var icon = marker instanceof L.Marker && marker.getElement();  // not the metro lines: paths
        if (!icon) { return; }
        [icon].concat(Array.prototype.slice.call(icon.children)).forEach(function (element) {
          var r = element.getBoundingClientRect();
          if (r.width && r.height) {
            grid.add([r.left - container.left + shift.x - 2, r.top - container.top + shift.y - 2,
              r.right - container.left + shift.x + 2, r.bottom - container.top + shift.y + 2]);
          }
        });
      });
    }, this);
  };

  StreetLabels.prototype.render = function () {
    var map = this.map;
    this.clear();
    if (map.getZoom() < STREET_NAMES_ZOOM) { return; }
    var size = map.getSize(), shift = L.point(size.x * PAD, size.y * PAD);
    var width = size.x + 2 * shift.x, height = size.y + 2 * shift.y;
    var origin = map.containerPointToLayerPoint([-shift.x, -shift.y]);
    L.DomUtil.setPosition(this.svg, origin);
    this.svg.setAttribute("width", String(Math.round(width)));
    this.svg.setAttribute("height", String(Math.round(height)));
    var view = L.latLngBounds(map.containerPointToLatLng([-shift.x, height - shift.y]),
      map.containerPointToLatLng([width - shift.x, -shift.y]));
    var fontPx = Math.min(13, map.getZoom() - 5);  // 11 px at zoom 16, 12 at 17, 13 from 18
    var font = "600 " + fontPx + "px system-ui, sans-serif";
    var h = fontPx * 1.25, grid = new Grid(), defs = document.createElementNS(SVG, "defs"), group = [];
    this.svg.appendChild(defs);
    this.taken(grid, shift);
    var order = this.streets.map(function (_, i) { return i; }), first = this.first;
    order.sort(function (a, b) { return (b === first) - (a === first); });
    var area = L.bounds(shift.add([2, 2]), shift.add(size).subtract([2, 2]));  // names only where they show
    var inside = function (box) { return box[0] >= 0 && box[1] >= 0 && box[2] <= width && box[3] <= height; };
    for (var k = 0; k < order.length; k++) {
      var street = this.streets[order[k]];
      if (!street.name) { continue; }
      var forms = [street.name, street.short].map(function (name) {
        return {name: name, room: this.width(name, font) + fontPx};
      }, this);
      for (var p = 0; p < street.parts.length; p++) {
        if (!view.intersects(street.bounds[p])) { continue; }
        var points = street.parts[p].map(function (ll) { return map.latLngToLayerPoint(ll).subtract(origin); });
        runs(points, area).forEach(function (run) {
          this.place(forms, run, h, grid, inside, defs, group, fontPx);
        }, this);
      }
    }
    group.forEach(function (element) { this.svg.appendChild(element); }, this);
  };

  // Names along one line: one in each REPEAT_PX of it, each where it is straight and free, tried from the
  // middle of its share outwards; the short form of the name where the whole one does not fit.
  StreetLabels.prototype.place = function (forms, points, h, grid, inside, defs, group, fontPx) {
    var acc = lengths(points), total = acc[acc.length - 1];
    var count = Math.max(1, Math.floor(total / REPEAT_PX)), share = total / count;
    for (var n = 0; n < count; n++) {
      for (var f = 0; f < forms.length; f++) {
        if (this.fit(forms[f], points, acc, [n * share, (n + 1) * share], h, grid, inside, defs, group, fontPx)) { break; }
      }
    }
  };

  StreetLabels.prototype.fit = function (form, points, acc, span, h, grid, inside, defs, group, fontPx) {
    var room = form.room, total = acc[acc.length - 1], centre = (span[0] + span[1]) / 2, step = h;
    if (total < room + 4) { return false; }
    for (var j = 0; j <= (span[1] - span[0]) / step; j++) {
      var offset = Math.ceil(j / 2) * step * (j % 2 ? -1 : 1);
      if (Math.abs(offset) > (span[1] - span[0]) / 2) { continue; }
      var mid = Math.max(room / 2, Math.min(total - room / 2, centre + offset));
      var piece = stretch(points, acc, mid - room / 2, mid + room / 2);
      if (!straight(piece)) { continue; }
      if (piece[piece.length - 1].x < piece[0].x) { piece.reverse(); }  // read left to right, never upside down
      var cover = boxes(piece, h);
      if (!cover.every(inside) || !cover.every(function (box) { return grid.free(box); })) { continue; }
      cover.forEach(function (box) { grid.add(box); });
      this.write(form.name, piece, defs, group, fontPx);
      return true;
    }
    return false;
  };

  StreetLabels.prototype.write = function (name, piece, defs, group, fontPx) {
    var id = this.prefix + group.length;
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("id", id);
    path.setAttribute("d", "M" + piece.map(function (p) { return p.x.toFixed(1) + " " + p.y.toFixed(1); }).join("L"));
    defs.appendChild(path);
    var label = document.createElementNS(SVG, "text");
    label.setAttribute("class", "mapaid-street-label");
    label.setAttribute("font-size", String(fontPx));
    label.setAttribute("dy", "0.35em");
    var along = document.createElementNS(SVG, "textPath");
    along.setAttribute("href", "#" + id);
    along.setAttribute("startOffset", "50%");
    along.setAttribute("text-anchor", "middle");
    along.textContent = name;  // data, as text
    label.appendChild(along);
    group.push(label);
  };

  function decodeBuildings(data) {
    var scale = data.scale;
    return data.buildings.map(function (rings) {
      return rings.map(function (flat) {
        var ring = [], lat = 0, lon = 0;
        for (var i = 0; i < flat.length; i += 2) {
          lat += flat[i];
          lon += flat[i + 1];
          ring.push([lat / scale, lon / scale]);
        }
        return ring;
      });
    });
  }

  function draw(map, spec, data) {
    var streetPane = pane(map, "mapaid-streets", 390);  // under the overlay pane (districts, hexagons: 400)
    var buildingPane = pane(map, "mapaid-buildings", 385);  // under the streets
    var chosenPane = pane(map, "mapaid-chosen-street", 410);  // over the hexagons' light fill
    var namePane = pane(map, "mapaid-street-names", 450);  // over the hexagons, readable on them
    var metroPane = pane(map, "mapaid-metro", 590);  // over hexagons, under markers (600)
    var labelPane = pane(map, "mapaid-labels", 595);
    var streets = L.layerGroup();
    var metro = L.layerGroup();
    var chosen = L.layerGroup().addTo(map);
    var buildings = null, buildingsLoading = null;

    // A station's name: a marker whose icon is a text node (not a Leaflet tooltip, which pages keep for
    // what the pointer is over), never interactive, so taps reach the hexagons under it.
    function label(at, name, className) {
      return L.marker(at, {pane: labelPane, interactive: false, keyboard: false,
        icon: L.divIcon({className: className, html: text("span", name), iconSize: null})});
    }
    var stationNames = L.layerGroup();
    var drawn = data.streets.map(function (street) {
      var parts = street[1].map(function (part) { return part.map(function (p) { return L.latLng(p[0], p[1]); }); });
      streets.addLayer(L.polyline(street[1], {pane: streetPane, interactive: false, color: "#8a94a3", weight: 2,
        opacity: 0.9, className: "mapaid-street"}));
      return {name: street[0], short: shortened(street[0]), key: loose(street[0]), parts: parts,
        bounds: parts.map(function (part) { return L.latLngBounds(part); })};
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
    var names = new StreetLabels(map, drawn, namePane, [metro, stationNames]);

    function show(layer, on) {
      if (on && !map.hasLayer(layer)) { layer.addTo(map); }
      if (!on && map.hasLayer(layer)) { map.removeLayer(layer); }
    }
    function loadBuildings() {
      if (!buildingsLoading) {
        buildingsLoading = fetch(spec.url.replace(/[^/]*\.json$/, "buildings.json"), {credentials: "omit"})
          .then(function (response) { return response.json(); })
          .then(function (found) {
            buildings = L.polygon(decodeBuildings(found), {pane: buildingPane, interactive: false,
              color: "#9aa5b1", weight: 1, opacity: 0.8, fillColor: "#cbd2d9", fillOpacity: 0.3,
              smoothFactor: 0.5, className: "mapaid-buildings"});
            refresh();
          });
      }
    }
    function refresh() {
      var zoom = map.getZoom();
      show(streets, zoom >= STREETS_ZOOM);
      show(stationNames, zoom >= STATION_NAMES_ZOOM);
      if (zoom >= BUILDINGS_ZOOM) { loadBuildings(); }
      if (buildings) { show(buildings, zoom >= BUILDINGS_ZOOM); }
      names.render();
    }

    function highlight(request) {
      var wanted = request.names.map(loose).filter(Boolean), near = L.latLng(request.lat, request.lon);
      chosen.clearLayers();
      names.first = null;
      drawn.forEach(function (street, i) {
        var close = street.parts.some(function (part) {
          return part.some(function (p) { return p.distanceTo(near) < 4000; });
        });
        if (!close || wanted.indexOf(street.key) < 0) { return; }
        names.first = i;
        chosen.addLayer(L.polyline(street.parts, {pane: chosenPane, interactive: false, color: "#d97706",
          weight: 7, opacity: 0.55, lineCap: "round", className: "mapaid-chosen-street"}));
      });
      names.render();
      return chosen.getLayers().length;
    }

    metro.addTo(map);
    map.attributionControl.addAttribution(escapeHtml(spec.attribution));
    // Every zoom ends with a moveend too. A jump far away ends with a viewreset after its moveend, and
    // only then are the markers (the station names the street names avoid) in their new places: so the
    // names are placed once both have passed.
    var pending = false;
    map.on("zoomstart", function () { names.clear(); });
    map.on("moveend viewreset", function () {
      if (!pending) {
        pending = true;
        setTimeout(function () { pending = false; refresh(); }, 0);
      }
    });
    refresh();
    map.mapaidBasemap = {streets: streets, metro: metro, stationNames: stationNames, chosen: chosen,
      labels: names, count: data.streets.length, stations: data.stations.length,
      buildings: function () { return buildings; }, highlight: highlight};
    if (map.mapaidChosenStreet) { highlight(map.mapaidChosenStreet); }
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
    // The place search may choose a street before the layer has come: kept, and drawn when it comes.
    map.mapaidHighlightStreet = function (names, lat, lon) {
      map.mapaidChosenStreet = {names: names, lat: lat, lon: lon};
      return map.mapaidBasemap ? map.mapaidBasemap.highlight(map.mapaidChosenStreet) : 0;
    };
    fetch(spec.url, {credentials: "omit"})
      .then(function (response) { return response.json(); })
      .then(function (data) { draw(map, spec, data); });
  });
}());
