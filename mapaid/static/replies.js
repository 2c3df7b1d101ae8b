/* mapaid: private replies on the pages (docs/replies.md). Three roles, named by the page's JSON block:
 *  - "answer" (a post's public page): write to the poster; a fresh key pair for this conversation, the
 *    message sealed to the post's key, and the writer's own private link (with #k= and the post key's
 *    fingerprint &p=) shown to keep;
 *  - "poster" (the private link's page): the post's conversations, a page at a time (newest first), read,
 *    answered and deleted in this browser;
 *  - "replier" (a conversation's private link): that one conversation, an answer box and "report".
 * The private key comes from the address's fragment (#k=...), which no request carries: it stays in this
 * page. Everything a message says is put on the page with textContent. A conversation is read in order and
 * stops at the first message that was changed, moved, dropped before or re-dated on the server (nothing
 * after it is decrypted); such a conversation says so and takes no answer. Before writing, the page reads
 * the conversation again, so the message follows what is stored. Words come from the page, already in its
 * language. */
(function () {
  "use strict";
  var blob = document.getElementById("mapaid-replies");
  var C = window.mapaidReplyCrypto;
  if (!blob) { return; }
  var config = JSON.parse(blob.textContent);
  var L = config.labels;
  var root = document.getElementById("replies");
  if (!root) { return; }

  function el(tag, className, text) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    if (text !== undefined && text !== null) { element.textContent = text; }
    return element;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) { return name in values ? String(values[name]) : whole; });
  }

  function say(target, text, kind) {
    target.textContent = text;
    target.className = "reply-status" + (kind ? " " + kind : "");
  }

  function day(text) {
    var found = /^\d{4}-(\d{2})-(\d{2})$/.exec(text || "");
    return found ? config.months[Number(found[1]) - 1].replace("{d}", String(Number(found[2]))) : String(text);
  }

  // Requests go to our own API only, with the token in a header; never the fragment, never a key.
  function api(method, path, token, body) {
    var headers = {"Accept": "application/json"};
    if (token) { headers[token.header] = token.value; }
    if (body) { headers["Content-Type"] = "application/json"; }
    return fetch(config.api + path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error("http");
          error.status = response.status;
          error.detail = data && typeof data.error === "string" ? data.error : "";
          throw error;
        }
        return data;
      });
    });
  }

  function failure(error, full) {
    var status = error && error.status;
    if (error && error.name === "NotSupportedError") { return L.unsupported; }  // e.g. no X25519 here
    if (error && error.name === "BadMessage") { return L.tampered; }  // the conversation stopped reading
    if (status === 409 && /read it again/.test(error.detail)) { return L.moved; }  // written meanwhile
    if (status === 422 && /site's day/.test(error.detail)) { return L.stale; }  // a page from another day
    if (status === 403) { return L.blocked; }
    if (status === 409) { return full; }
    if (status === 404) { return L.gone; }
    if (status === 429) { return L.tooMany; }
    if (status === 413 || status === 422) { return L.refused; }
    return L.offline;
  }

  function characters(text) { return Array.from(text).length; }

  // A message box with a live character counter; `send(text)` returns a promise.
  function composer(parent, id, labelText, buttonText, send) {
    var form = el("form", "reply-form");
    form.noValidate = true;
    var label = el("label", null, labelText);
    label.htmlFor = id;
    var area = el("textarea");
    area.id = id;
    area.rows = 4;
    area.setAttribute("aria-describedby", id + "-count");
    var counter = el("p", "hint reply-count");
    counter.id = id + "-count";
    var button = el("button", null, buttonText);
    button.type = "submit";
    var status = el("p", "reply-status");
    status.setAttribute("role", "status");
    function count() {
      var n = characters(area.value);
      counter.textContent = fill(L.count, {n: n, max: config.maxChars});
      counter.classList.toggle("over", n > config.maxChars);
    }
    area.addEventListener("input", count);
    count();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value.trim();
      if (!text) { say(status, L.empty, "problem"); area.focus(); return; }
      if (characters(text) > config.maxChars) { say(status, fill(L.tooLong, {max: config.maxChars}), "problem"); area.focus(); return; }
      button.disabled = true;
      say(status, L.sending);
      send(text).then(function (done) {
        area.value = "";
        count();
        say(status, done || L.sent, "success");
      }, function (why) { say(status, typeof why === "string" ? why : L.offline, "problem"); })
        .then(function () { button.disabled = false; });
    });
    form.appendChild(label);
    form.appendChild(area);
    form.appendChild(counter);
    var row = el("p");
    row.appendChild(button);
    form.appendChild(row);
    form.appendChild(status);
    parent.appendChild(form);
    return {form: form, area: area, status: status};
  }

  // A conversation as read (mapaidReplyCrypto's reading): the messages that check out, then, if it stopped,
  // the one it stopped at (why, never what it says), how many after it were not read, and a warning.
  function drawMessages(parent, reading, mine) {
    var list = el("ol", "messages");
    reading.shown.forEach(function (item) {
      var own = item.from === mine;
      var li = el("li", "message " + (own ? "mine" : "theirs"));
      li.appendChild(el("p", "message-who", (own ? L.you : L.them) + " · " + day(item.day)));
      li.appendChild(el("p", "message-text", item.text));
      list.appendChild(li);
    });
    if (reading.why) {
      var li = el("li", "message damaged");
      li.appendChild(el("p", "message-damaged", L["stopped_" + reading.why] || L.damaged));
      if (reading.unread) { li.appendChild(el("p", "message-unread", fill(L.unread, {n: reading.unread}))); }
      list.appendChild(li);
    }
    parent.appendChild(list);
    if (reading.why) {
      var warning = el("p", "notice problem tampered", L.tampered);
      warning.setAttribute("role", "alert");
      parent.appendChild(warning);
    }
  }

  // Read the conversation again as stored, then seal the next message after it with the site's day: the
  // message follows what the server holds, and nothing goes into a conversation that stopped reading.
  function writeAfterReading(party, path, token, text) {
    return api("GET", path, token).then(function (data) {
      return party.readAll(data.messages).then(function (reading) { return party.write(text, data.today, reading); });
    }).then(function (wire) { return api("POST", path + "/messages", token, {message: wire}); });
  }

  var state = document.getElementById("replies-state");
  var fragment = C ? C.keyFromHash(window.location.hash) : null;
  var key = fragment ? fragment.key : null;

  // The private link's fragment is kept wherever the page links to itself: the language switcher, the
  // shown link, the copy and share buttons (never in a request: fragments stay in the browser).
  function keepFragment(hash) {
    document.querySelectorAll(".langs a").forEach(function (a) { a.href = a.getAttribute("href").split("#")[0] + hash; });
    var link = document.getElementById("private-link");
    if (link) {
      var base = link.getAttribute("href").split("#")[0];
      link.href = base + hash;
      link.textContent = base + hash;
    }
    ["copy-link", "share-link"].forEach(function (id) {
      var button = document.getElementById(id);
      if (button) { button.setAttribute("data-url", button.getAttribute("data-url").split("#")[0] + hash); }
    });
  }

  function needKey() {
    var note = document.getElementById("replies-no-key");
    if (note) { note.hidden = false; }
    if (state) { state.textContent = ""; }
  }

  function unsupported() {
    if (state) { say(state, L.unsupported, "problem"); }
  }

  // The link's key must be the one of this post (poster) or of this conversation (replier).
  function checkKey(publicText) {
    return Promise.resolve().then(function () { return C.publicOf(key, C.curveOf(publicText)); }).then(function (found) {
      if (found !== publicText) { throw new Error("wrong key"); }
    });
  }

  function keyProblem(error) {
    return error && error.name === "NotSupportedError" ? L.unsupported : L.wrongKey;
  }

  // After a page of conversations is drawn anew (another page, a deletion), focus goes to the section's
  // heading, so a screen reader starts there and the keyboard is not left on a button that went away.
  function focusTitle() {
    var title = document.getElementById("replies-title");
    if (title) { title.tabIndex = -1; title.focus(); }
  }

  function poster() {
    var token = {header: "X-Post-Token", value: config.token};
    var box = document.getElementById("threads");
    var nav = null;
    function drawNav(data, load) {
      if (nav) { nav.remove(); nav = null; }
      if (data.pages <= 1) { return; }
      nav = el("nav", "thread-pages");
      nav.setAttribute("aria-label", L.pagesLabel);
      var from = (data.page - 1) * data.per_page + 1;
      nav.appendChild(el("p", null, fill(L.pageOf, {from: from, to: from + data.threads.length - 1, total: data.total})));
      var row = el("p", "link-buttons");
      [[L.newer, data.page - 1, data.page > 1], [L.older, data.page + 1, data.page < data.pages]].forEach(function (b) {
        if (!b[2]) { return; }
        var button = el("button", "secondary", b[0]);
        button.type = "button";
        button.addEventListener("click", function () {
          load(b[1]).then(focusTitle);
        });
        row.appendChild(button);
      });
      nav.appendChild(row);
      box.parentNode.insertBefore(nav, box.nextSibling);
    }
    function deleteButton(section, thread, reload) {
      var row = el("p", "thread-delete");
      var ask = el("button", "secondary", L.deleteThread);
      ask.type = "button";
      var confirm = el("div", "confirm-delete");
      confirm.hidden = true;
      confirm.appendChild(el("p", null, L.deleteAsk));
      var yes = el("button", "danger", L.deleteYes);
      yes.type = "button";
      var no = el("button", "secondary", L.deleteNo);
      no.type = "button";
      var status = el("p", "reply-status");
      status.setAttribute("role", "status");
      var buttons = el("p");
      buttons.appendChild(yes);
      buttons.appendChild(document.createTextNode(" "));
      buttons.appendChild(no);
      confirm.appendChild(buttons);
      ask.addEventListener("click", function () { confirm.hidden = false; ask.hidden = true; no.focus(); });
      no.addEventListener("click", function () { confirm.hidden = true; ask.hidden = false; ask.focus(); });
      yes.addEventListener("click", function () {
        yes.disabled = true;
        api("DELETE", "/threads/" + encodeURIComponent(thread.thread), token).then(function () {
          return reload().then(function () { say(state, L.deleted, "success"); focusTitle(); });
        }, function (error) { yes.disabled = false; say(status, failure(error, L.gone), "problem"); });
      });
      row.appendChild(ask);
      section.appendChild(row);
      section.appendChild(confirm);
      section.appendChild(status);
    }
    var current = 1;
    function load(page) {
      return api("GET", "/posts/" + encodeURIComponent(config.post) + "/threads?page=" + page, token).then(function (data) {
        if (!data.threads.length && data.page > 1) { return load(data.page - 1); }
        current = data.page;
        return Promise.all(data.threads.map(function (thread) {
          var party = C.party(config.post, data.post_key, thread.replier_key, key, true);
          return party.readAll(thread.messages).then(function (reading) { return {thread: thread, party: party, reading: reading}; });
        })).then(function (threads) {
          box.textContent = "";
          say(state, threads.length ? L.reload : L.none);
          var first = (data.page - 1) * data.per_page;
          threads.forEach(function (t, i) {
            var section = el("section", "thread");
            var title = el("h3", null, fill(L.conversation, {n: first + i + 1}));
            title.id = "thread-title-" + i;
            section.setAttribute("aria-labelledby", title.id);
            section.appendChild(title);
            drawMessages(section, t.reading, "poster");
            if (!t.reading.why) {
              composer(section, "answer-" + i, L.answerLabel, L.send, function (text) {
                var path = "/threads/" + encodeURIComponent(t.thread.thread);
                return writeAfterReading(t.party, path, token, text).then(function () {
                  return load(current).then(function () { say(state, L.sent + " " + L.reload, "success"); });
                }, function (error) { throw failure(error, L.full); });
              });
            }
            deleteButton(section, t.thread, function () { return load(current); });
            box.appendChild(section);
          });
          drawNav(data, load);
        });
      });
    }
    checkKey(config.postKey).then(function () { return load(1); }, function (error) { say(state, keyProblem(error), "problem"); throw null; })
      .catch(function (error) { if (error !== null) { say(state, failure(error, L.full), "problem"); } });
  }

  // The post's key must be the one the link's fingerprint names (links made before it was added have none):
  // a key swapped on the server would read the next message.
  function checkPostKey(postKey) {
    if (!fragment.post) { return Promise.resolve(); }
    return C.fingerprint(postKey || "").then(function (found) {
      if (found !== fragment.post) { throw new Error("post key"); }
    });
  }

  function replier() {
    var token = {header: "X-Thread-Token", value: config.token};
    var box = document.getElementById("threads");
    var path = "/threads/" + encodeURIComponent(config.thread);
    var party = null;
    var answerBox = null;
    function load() {
      return api("GET", path, token).then(function (data) {
        return checkPostKey(data.post_key).catch(function () { say(state, L.postKeyChanged, "problem"); throw null; }).then(function () {
          party = party || C.party(data.post, data.post_key, data.replier_key, key, false);
          return checkKey(data.replier_key).then(function () { return party.readAll(data.messages); }, function (error) {
            say(state, keyProblem(error), "problem");
            throw null;
          });
        });
      }).then(function (reading) {
        box.textContent = "";
        say(state, L.reload);
        drawMessages(box, reading, "replier");
        if (answerBox) { answerBox.form.hidden = Boolean(reading.why); }
        return reading;
      });
    }
    load().then(function (reading) {
      answerBox = composer(document.getElementById("replies-answer"), "answer", L.answerLabel, L.send, function (text) {
        return writeAfterReading(party, path, token, text).then(function () {
          return load().then(function () { return L.sent; });
        }, function (error) { throw failure(error, L.full); });
      });
      answerBox.form.hidden = Boolean(reading.why);
    }).catch(function (error) { if (error !== null) { say(state, failure(error, L.full), "problem"); } });

    var report = document.getElementById("report-form");
    if (report) {
      report.hidden = false;  // without scripts the page links to the report page instead
      report.addEventListener("submit", function (event) {
        event.preventDefault();
        var status = document.getElementById("report-status");
        var reason = report.querySelector("input[name=reason]:checked");
        if (!reason) { say(status, L.chooseReason, "problem"); return; }
        api("POST", "/threads/" + encodeURIComponent(config.thread) + "/report", token, {reason: reason.value})
          .then(function () { say(status, L.reported, "success"); }, function (error) { say(status, failure(error, L.refused), "problem"); });
      });
    }
  }

  function answer() {
    var result = document.getElementById("reply-result");
    var link = document.getElementById("private-link");
    composer(document.getElementById("replies-answer"), "answer", L.answerLabel, L.send, function (text) {
      var pair = null;
      var print = null;
      return Promise.all([C.generate(C.curveOf(config.postKey)), C.fingerprint(config.postKey)]).then(function (made) {
        pair = made[0];
        print = made[1];
        return C.party(config.post, config.postKey, pair.public, pair.private, false).write(text, config.today);
      }).then(function (wire) {
        return api("POST", "/posts/" + encodeURIComponent(config.post) + "/threads", null, {key: pair.public, message: wire});
      }).then(function (made) {
        // The writer's own private link: the only way back to the answer (the key is in its fragment, with
        // the fingerprint of the post key it was written to).
        var url = window.location.origin + config.root + made.link + "#k=" + pair.private + "&p=" + print;
        link.href = url;
        link.textContent = url;
        ["copy-link", "share-link"].forEach(function (id) {
          var button = document.getElementById(id);
          if (button) { button.setAttribute("data-url", url); }
        });
        result.hidden = false;
        root.querySelector(".reply-form").hidden = true;
        var title = document.getElementById("reply-result-title");
        title.focus();
        return L.sent;
      }, function (error) { throw failure(error, L.fullPost); });
    });
  }

  if (!C || !C.available) { unsupported(); return; }
  if (config.role === "answer") { answer(); return; }
  if (!key) { needKey(); return; }
  keepFragment("#k=" + key + (fragment.post ? "&p=" + fragment.post : ""));
  if (state) { say(state, L.loading); }
  if (config.role === "poster") { poster(); }
  if (config.role === "replier") { replier(); }
}());
