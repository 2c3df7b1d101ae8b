/* mapaid: find a street, metro station or place by name, in the browser.
 * The whole gazetteer comes from our server once (/places.json, the same file for everyone); what the
 * person types is matched here and never sent anywhere. Names are folded to an ASCII skeleton (the same
 * rules as mapaid/places.py skeleton) so a Latin, Russian or Belarusian spelling finds the same place,
 * and a word one or two letters off still matches. Choosing a result centres the map there, at the zoom
 * where cells.js draws the hexagons. A combobox: arrow keys, Enter, Escape; results are text only. */
(function () {
  "use strict";

  var CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "e",
    "ж": "z", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f",
    "х": "h", "ц": "c", "ч": "c", "ш": "s", "щ": "sc", "ъ": "", "ь": "", "ы": "i", "э": "e",
    "ю": "iu", "я": "ia", "ł": "l", "'": "", "ʼ": "", "’": "", "`": "", "ß": "ss", "ø": "o"
  };
  var LATIN = [["sh", "s"], ["zh", "z"], ["ch", "c"], ["kh", "h"], ["ts", "c"],
    ["tz", "c"], ["x", "ks"], ["w", "u"], ["q", "k"], ["g", "h"], ["j", "i"], ["y", "i"], ["o", "a"]];

  function skeleton(text) {
    var s = text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g, "");
    var out = "";
    for (var i = 0; i < s.length; i++) {
      var c = s.charAt(i);
      out += Object.prototype.hasOwnProperty.call(CYRILLIC, c) ? CYRILLIC[c] : c;
    }
    for (var j = 0; j < LATIN.length; j++) { out = out.split(LATIN[j][0]).join(LATIN[j][1]); }
    out = out.replace(/i(?=[aeu])/g, "").replace(/([a-z0-9])\1+/g, "$1");
    return out.replace(/[^a-z0-9]+/g, " ").trim();
  }

  // Words that say what a place is rather than which: dropped from a query that has other words.
  var GENERIC = ["улица", "вуліца", "ул", "вул", "ulitsa", "vulica", "street", "st", "проспект", "праспект",
    "prospekt", "avenue", "пр", "площадь", "плошча", "ploshchad", "ploshcha", "square", "пл", "переулок",
    "завулак", "pereulok", "zavulak", "lane", "проезд", "праезд", "тупик", "тупік", "бульвар", "бульвар",
    "bulvar", "boulevard", "метро", "metro", "станция", "станцыя", "station", "ст", "м", "дом", "д", "dom",
    "house", "no"];
  var generic = {};
  GENERIC.forEach(function (w) { generic[skeleton(w)] = true; });

  function distance(a, b, limit) {
    // Levenshtein distance, stopped early once every path exceeds limit.
    if (Math.abs(a.length - b.length) > limit) { return limit + 1; }
    var prev = [], cur = [], i, j;
    for (j = 0; j <= b.length; j++) { prev[j] = j; }
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      var low = i;
      for (j = 1; j <= b.length; j++) {
        var cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (cur[j] < low) { low = cur[j]; }
      }
      if (low > limit) { return limit + 1; }
      prev = cur;
    }
    return prev[b.length];
  }

  // How well one query word fits one name word: 0 its start, 1 inside it, 1-2 a letter or two off; -1 not.
  function fit(q, word) {
    if (word.lastIndexOf(q, 0) === 0) { return 0; }
    if (q.length >= 3 && word.indexOf(q) > 0) { return 1; }
    if (q.length < 4) { return -1; }
    var limit = q.length >= 7 ? 2 : 1;
    var d = Math.min(distance(q, word.slice(0, q.length), limit), distance(q, word, limit));
    return d <= limit ? 0.5 + d : -1;
  }

  // A house number folded for matching, as mapaid/places.py house_key: "8 к1", "8к1", "8 корпус 1" are
  // "8k1"; "8А", "8-а" are "8a"; "8/2" stays.
  function houseKey(text) {
    var s = text.toLowerCase(), out = "";
    for (var i = 0; i < s.length; i++) {
      var c = s.charAt(i);
      out += Object.prototype.hasOwnProperty.call(CYRILLIC, c) ? CYRILLIC[c] : c;
    }
    return out.replace(/korpus|korp|kor/g, "k").replace(/[^a-z0-9/]+/g, "");
  }

  // A house number for an English page: its letters in Latin ("8 к1" is "8 k1", "22А" is "22A").
  function latinNumber(number) {
    return number.replace(/[\u0400-\u04ff]/g, function (c) {
      var latin = CYRILLIC[c.toLowerCase()] || c;
      return c === c.toLowerCase() ? latin : latin.toUpperCase();
    });
  }

  // A query read as a street and a house number: the number is the last run of words from one that
  // starts with a digit ("Кирова 8", "Kirava 8 к1", "Кірава, 8/2"), or a leading one ("8 Кирова").
  function splitHouse(query) {
    var words = query.replace(/,/g, " ").split(/\s+/).filter(Boolean);
    for (var i = words.length - 1; i >= 1; i--) {
      if (/^\d/.test(words[i]) && words.slice(i + 1).every(function (w) { return w.length <= 6; })) {
        return {street: words.slice(0, i).join(" "), number: houseKey(words.slice(i).join(" "))};
      }
    }
    if (words.length > 1 && /^\d/.test(words[0])) {
      return {street: words.slice(1).join(" "), number: houseKey(words[0])};
    }
    return null;
  }

  function Index(data) {
    this.kinds = data.k;
    this.districts = data.d;
    this.places = data.p;
    this.house = data.k.indexOf("house");
    this.houses = {};  // street's place index -> its houses [street, number, lon, lat, district, key]
    (data.h || []).forEach(function (h) {
      (this.houses[h[0]] = this.houses[h[0]] || []).push(h.concat([houseKey(h[1])]));
    }, this);
    this.names = [];   // per place: list of word lists, one per name
    this.words = {};   // every name word once, for scoring it once per query word
    for (var i = 0; i < data.p.length; i++) {
      var row = data.p[i], lists = [];
      var names = [row[4], row[5], row[6]].concat(row[7] ? row[7].split("|") : []);
      for (var n = 0; n < names.length; n++) {
        if (!names[n]) { continue; }
        var words = skeleton(names[n]).split(" ").filter(Boolean);
        if (words.length) { lists.push(words); }
        words.forEach(function (w) { this.words[w] = true; }, this);
      }
      this.names.push(lists);
    }
  }

  // Places for what was typed, best first; with a house number, that street's houses come first (the
  // number as typed, then the same number with a letter or block: "8" finds 8, then 8 к1, 8А).
  Index.prototype.search = function (query, limit) {
    var house = splitHouse(query), places = this.places;
    if (house && house.number) {
      var streets = this.scored(house.street);
      var named = streets.slice(0, limit).map(function (f) { return places[f[2]]; });
      var found = this.housesOf(streets, house.number, limit);
      if (found.length) { return found.concat(named).slice(0, limit); }
      var whole = this.match(query, limit);  // a name with a number in it ("8 Сакавіка")
      return whole.length ? whole : named;  // else the street, when no house has that number
    }
    return this.match(query, limit);
  };

  Index.prototype.housesOf = function (streets, number, limit) {
    var found = [], houses = this.houses, places = this.places, base = number.match(/^\d+/);
    streets.forEach(function (f) {
      (houses[f[2]] || []).forEach(function (h) {
        var same = h[5] === number, near = !same && base && h[5].match(/^\d+/)[0] === base[0];
        if (same || near) { found.push([f[0] + (same ? 0 : 1 + Math.abs(h[5].length - number.length) / 10), h, places[f[2]]]); }
      });
    });
    found.sort(function (a, b) { return a[0] - b[0]; });
    var kind = this.house;
    return found.slice(0, limit).map(function (f) {
      var h = f[1], street = f[2], num = h[1];
      // A row like a place's: the street's names with the number, and the street itself to highlight it.
      var row = [kind, h[4], h[2], h[3], street[4] + ", " + num, street[5] ? street[5] + ", " + num : "",
        street[6] ? street[6] + ", " + latinNumber(num) : "", ""];
      row.street = street;
      return row;
    });
  };

  Index.prototype.match = function (query, limit) {
    var places = this.places;
    return this.scored(query).slice(0, limit).map(function (f) { return places[f[2]]; });
  };

  // Every place whose names fit the query's words: [cost, kind, index], best first.
  Index.prototype.scored = function (query) {
    var words = skeleton(query).split(" ").filter(Boolean);
    var specific = words.filter(function (w) { return !generic[w]; });
    if (specific.length) { words = specific; }
    if (!words.length) { return []; }
    var costs = words.map(function () { return {}; });
    var found = [];
    for (var i = 0; i < this.places.length; i++) {
      var best = -1;
      for (var n = 0; n < this.names[i].length; n++) {
        var nameWords = this.names[i][n], total = 0;
        for (var q = 0; q < words.length && total >= 0; q++) {
          var wordBest = -1;
          for (var w = 0; w < nameWords.length; w++) {
            var word = nameWords[w], c = costs[q][word];
            if (c === undefined) { c = costs[q][word] = fit(words[q], word); }
            if (c >= 0 && (wordBest < 0 || c < wordBest)) { wordBest = c; }
          }
          total = wordBest < 0 ? -1 : total + wordBest;
        }
        if (total >= 0 && (best < 0 || total < best)) { best = total; }
      }
      if (best >= 0) { found.push([best, this.places[i][0], i]); }
    }
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; });
    return found;
  };

  window.mapaidPlaces = {skeleton: skeleton, houseKey: houseKey, Index: Index};

  var holder = document.getElementById("mapaid-places");
  var input = document.getElementById("place-q");
  if (!holder || !input) { return; }
  var config = JSON.parse(holder.textContent);
  var cells = JSON.parse(document.getElementById("mapaid-cells").textContent);
  var map = window[cells.map];
  var list = document.getElementById("place-list");
  var status = document.getElementById("place-status");
  var lang = ["be", "ru", "en"].indexOf(config.lang);
  var order = lang < 0 ? [0, 1, 2] : [lang].concat([0, 1, 2].filter(function (l) { return l !== lang; }));
  var index = null, loading = null, results = [], active = -1, marker = null, timer = null;

  function say(text) { status.textContent = text; }

  function load() {
    if (!loading) {
      say(config.labels.loading);
      loading = fetch(config.url, {credentials: "omit"})
        .then(function (response) { return response.json(); })
        .then(function (data) { index = new Index(data); window.mapaidPlaces.index = index; return index; });
    }
    return loading;
  }

  function nameOf(row) {
    for (var i = 0; i < order.length; i++) { if (row[4 + order[i]]) { return row[4 + order[i]]; } }
    return row[4];
  }

  function describe(row) {
    var kind = config.kinds[index.kinds[row[0]]] || "";
    var district = row[1] >= 0 ? index.districts[row[1]][lang < 0 ? 2 : lang] : "";
    return [kind, district].filter(Boolean).join(" · ");
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(i) {
    var items = list.children;
    if (active >= 0 && items[active]) { items[active].setAttribute("aria-selected", "false"); }
    active = i;
    if (i >= 0 && items[i]) {
      items[i].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", items[i].id);
      items[i].scrollIntoView({block: "nearest"});
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function show() {
    var query = input.value;
    list.setAttribute("data-query", query);  // which typing the list answers (tests wait for the last)
    if (skeleton(query).length < 2) { results = []; list.replaceChildren(); close(); say(""); return; }
    var found = index.search(query, 8);
    if (!list.hidden && found.length === results.length && found.every(function (row, i) { return row === results[i]; })) {
      return;  // the same places: keep the options in place, so a tap already on its way still lands
    }
    results = found;
    list.replaceChildren();
    results.forEach(function (row, i) {
      var item = document.createElement("li");
      item.id = "place-option-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.className = "place-option";
      var name = document.createElement("span");
      name.className = "place-name";
      name.textContent = nameOf(row);
      var about = document.createElement("span");
      about.className = "place-about";
      about.textContent = describe(row);
      item.append(name, about);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); });
      item.addEventListener("click", function () { pick(i); });
      list.appendChild(item);
    });
    active = -1;
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", results.length ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
    say(results.length ? config.labels.found.replace("%(n)s", String(results.length)) : config.labels.none);
  }

  function allNames(row) {
    return [row[4], row[5], row[6]].concat(row[7] ? row[7].split("|") : []).filter(Boolean);
  }

  // A chosen place: the map centred there; a street (or a house's street) highlighted on our street map
  // (basemap.js); a house's hexagon marked at once as hers (cells.js), said in words on the page.
  function pick(i) {
    var row = results[i];
    if (!row) { return; }
    input.value = nameOf(row);
    close();
    var house = row[0] === index.house && row.street;
    // A house: close enough to see its building and the street names (zoom 16); else the hexagons
    // and a few blocks around them.
    var zoom = house ? Math.max(cells.minZoom + 1, 16) : cells.minZoom + 1;
    map.setView([row[3], row[2]], zoom);
    if (marker) { map.removeLayer(marker); }
    marker = L.circleMarker([row[3], row[2]], {radius: 7, color: "#b91c1c", weight: 3, fillOpacity: 0.2,
      interactive: false, className: "mapaid-place-marker"}).addTo(map);
    var street = house ? row.street : (["street", "square"].indexOf(index.kinds[row[0]]) >= 0 ? row : null);
    if (map.mapaidHighlightStreet) {
      map.mapaidHighlightStreet(street ? allNames(street) : [], street ? street[3] : 0, street ? street[2] : 0);
    }
    say(config.labels.shown.replace("%(name)s", nameOf(row)));
    if (house && window.mapaidCells) {
      window.mapaidCells.suggest(row[3], row[2], config.labels.probably[cells.mode] || config.labels.probably.go);
    }
  }

  input.addEventListener("focus", load);
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { timer = null; load().then(show); }, 60);
  });
  input.addEventListener("keydown", function (event) {
    var key = event.key;
    if (timer !== null && index && (key === "ArrowDown" || key === "ArrowUp" || key === "Enter")) {
      clearTimeout(timer);  // results for what is in the box now, not for a few letters ago
      timer = null;
      show();
    }
    if (key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden && results.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      if (!results.length) { return; }
      var next = key === "ArrowDown" ? active + 1 : active - 1;
      if (next >= results.length) { next = 0; }
      if (next < 0) { next = results.length - 1; }
      highlight(next);
    } else if (key === "Enter") {
      event.preventDefault();  // never submits the form around it: the query stays here
      if (!list.hidden && results.length) { pick(active >= 0 ? active : 0); }
    } else if (key === "Escape") {
      if (!list.hidden) { event.preventDefault(); close(); }
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
}());
