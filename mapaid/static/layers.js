/* mapaid: the data layers of a folium map (districts, unmet needs, optional tiles), from the JSON spec the
 * page carries beside the map's script (maps.Layers). folium's templates never see data: branca renders their
 * output a second time as a template, and folium's tooltips write values into innerHTML. Here every name,
 * label and value reaches the page through textContent; only Leaflet's layer switch and attribution take
 * HTML, so their texts are escaped first. */
(function () {
  "use strict";
  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  }

  function cell(row, tag, text) {
    var element = document.createElement(tag);
    element.textContent = text;
    row.appendChild(element);
  }

  // A tooltip or popup: the feature's fields as rows of text, with their labels as headings.
  function detail(spec) {
    return function (layer) {
      var box = document.createElement("div");
      var table = document.createElement("table");
      var properties = layer.feature.properties;
      spec.fields.forEach(function (field, i) {
        var row = document.createElement("tr");
        if (spec.labels) { cell(row, "th", spec.labels[i]); }
        var value = properties[field];
        if (typeof value === "number") { value = value.toLocaleString(); }
        cell(row, "td", value === null || value === undefined ? "" : String(value));
        table.appendChild(row);
      });
      box.appendChild(table);
      // A link to a page of ours (a path, never another site or a javascript: URL), its text as text.
      var href = spec.link ? properties[spec.link.field] : null;
      if (typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/") {
        var link = document.createElement("a");
        link.href = href;
        link.textContent = spec.link.text;
        link.className = "detail-link";
        box.appendChild(link);
      }
      return box;
    };
  }

  function draw(element) {
    if (element.hasAttribute("data-drawn")) { return; }  // a page with two maps loads this file twice
    element.setAttribute("data-drawn", "");
    var spec = JSON.parse(element.textContent);
    var map = window[element.getAttribute("data-map")];
    var bases = {};
    var overlays = {};
    if (spec.raster) {
      var tiles = L.tileLayer(spec.raster.url, {attribution: escapeHtml(spec.raster.attribution)}).addTo(map);
      bases[escapeHtml(spec.raster.name)] = tiles;
    }
    spec.layers.forEach(function (layerSpec) {
      var options = {style: function (feature) { return feature.properties.style; }};
      if (layerSpec.attribution) { options.attribution = escapeHtml(layerSpec.attribution); }
      var layer = L.geoJson(layerSpec.data, options);
      if (layerSpec.tooltip) {
        layer.bindTooltip(detail(layerSpec.tooltip), {sticky: true, className: "mapaid-detail"});
      }
      if (layerSpec.popup) { layer.bindPopup(detail(layerSpec.popup), {className: "mapaid-detail"}); }
      layer.addTo(map);
      overlays[escapeHtml(layerSpec.name)] = layer;
    });
    if (spec.control) { L.control.layers(bases, overlays, {collapsed: false}).addTo(map); }
  }

  document.querySelectorAll("script.mapaid-layers").forEach(draw);
}());
