/* mapaid: private replies on the pages (docs/replies.md). Three roles, named by the page's JSON block:
 *  - "answer" (a post's public page): write to the poster; a fresh key pair for this conversation, the
 *    message sealed to the post's key, and the writer's own private link (with #k=) shown to keep;
 *  - "poster" (the private link's page): the post's conversations, read and answered in this browser;
 *  - "replier" (a conversation's private link): that one conversation, an answer box and "report".
 * The private key comes from the address's fragment (#k=...), which no request carries: it stays in this
 * page. Everything a message says is put on the page with textContent; a message that does not decrypt is
 * shown as damaged, never in part. Words come from the page, already in its language. */
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
        if (!response.ok) { var error = new Error("http"); error.status = response.status; throw error; }
        return data;
      });
    });
  }

  function failure(error, full) {
    var status = error && error.status;
    if (error && error.name === "NotSupportedError") { return L.unsupported; }  // e.g. no X25519 here
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

  // One conversation's messages, each decrypted whole or shown as damaged.
  function readAll(party, messages) {
    return Promise.all(messages.map(function (m) {
      return party.read(m.message, m.from).then(function (text) { return {m: m, text: text}; },
        function () { return {m: m, text: null}; });
    }));
  }

  function drawMessages(parent, read, mine) {
    var list = el("ol", "messages");
    read.forEach(function (item) {
      var own = item.m.from === mine;
      var li = el("li", "message " + (own ? "mine" : "theirs"));
      li.appendChild(el("p", "message-who", (own ? L.you : L.them) + " · " + day(item.m.day)));
      if (item.text === null) {
        li.classList.add("damaged");
        li.appendChild(el("p", "message-damaged", L.damaged));
      } else {
        li.appendChild(el("p", "message-text", item.text));
      }
      list.appendChild(li);
    });
    parent.appendChild(list);
  }

  var state = document.getElementById("replies-state");
  var key = C ? C.keyFromHash(window.location.hash) : null;

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

  function poster() {
    var token = {header: "X-Post-Token", value: config.token};
    var box = document.getElementById("threads");
    function load() {
      return api("GET", "/posts/" + encodeURIComponent(config.post) + "/threads", token).then(function (data) {
        return Promise.all(data.threads.map(function (thread) {
          var party = C.party(config.post, data.post_key, thread.replier_key, key, true);
          return readAll(party, thread.messages).then(function (read) { return {thread: thread, party: party, read: read}; });
        }));
      }).then(function (threads) {
        box.textContent = "";
        say(state, threads.length ? L.reload : L.none);
        threads.forEach(function (t, i) {
          var section = el("section", "thread");
          var title = el("h3", null, fill(L.conversation, {n: i + 1}));
          title.id = "thread-title-" + i;
          section.setAttribute("aria-labelledby", title.id);
          section.appendChild(title);
          drawMessages(section, t.read, "poster");
          composer(section, "answer-" + i, L.answerLabel, L.send, function (text) {
            return t.party.write(text).then(function (wire) {
              return api("POST", "/threads/" + encodeURIComponent(t.thread.thread) + "/messages", token, {message: wire});
            }).then(function () {
              return load().then(function () { say(state, L.sent + " " + L.reload, "success"); });
            }, function (error) { throw failure(error, L.full); });
          });
          box.appendChild(section);
        });
      });
    }
    checkKey(config.postKey).then(load, function (error) { say(state, keyProblem(error), "problem"); throw null; })
      .catch(function (error) { if (error !== null) { say(state, failure(error, L.full), "problem"); } });
  }

  function replier() {
    var token = {header: "X-Thread-Token", value: config.token};
    var box = document.getElementById("threads");
    var party = null;
    function load() {
      return api("GET", "/threads/" + encodeURIComponent(config.thread), token).then(function (data) {
        party = party || C.party(data.post, data.post_key, data.replier_key, key, false);
        return checkKey(data.replier_key).then(function () { return readAll(party, data.messages); }, function (error) {
          say(state, keyProblem(error), "problem");
          throw null;
        });
      }).then(function (read) {
        box.textContent = "";
        say(state, L.reload);
        drawMessages(box, read, "replier");
      });
    }
    load().then(function () {
      composer(document.getElementById("replies-answer"), "answer", L.answerLabel, L.send, function (text) {
        return party.write(text).then(function (wire) {
          return api("POST", "/threads/" + encodeURIComponent(config.thread) + "/messages", token, {message: wire});
        }).then(load, function (error) { throw failure(error, L.full); });
      });
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
      return C.generate(C.curveOf(config.postKey)).then(function (made) {
        pair = made;
        return C.party(config.post, config.postKey, pair.public, pair.private, false).write(text);
      }).then(function (wire) {
        return api("POST", "/posts/" + encodeURIComponent(config.post) + "/threads", null, {key: pair.public, message: wire});
      }).then(function (made) {
        // The writer's own private link: the only way back to the answer (the key is in its fragment).
        var url = window.location.origin + config.root + made.link + "#k=" + pair.private;
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
  keepFragment("#k=" + key);
  if (state) { say(state, L.loading); }
  if (config.role === "poster") { poster(); }
  if (config.role === "replier") { replier(); }
}());
