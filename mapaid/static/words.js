/* mapaid: before a public text is sent, look for what may point at her door (issue 18, item 2): a house,
 * entrance or flat number, a phone number, an @handle or e-mail address, in Belarusian, Russian and
 * English. If something is found, the page asks (the dialog of _words_check.html) and she chooses: go
 * back and edit (the text stays, the first find selected) or send anyway. Nothing is sent anywhere by
 * this check: it runs on the text in the page. Without JavaScript the form posts as before.
 *
 * The patterns are a net with wide holes on purpose: a false alarm costs her one tap, a miss costs what
 * the notice above the field already says. They want a number next to the word ("под'езд 4", "кв. 12"),
 * so ordinary texts ("Need bread, 2 loaves", "в 18:00", "5-й этаж") pass. window.mapaidWords.find is the
 * list of finds, for tests. */
(function () {
  "use strict";

  var NOT_AFTER = "(?<![\\p{L}\\p{N}_])";  // JavaScript's \b knows only ASCII letters
  var NUMBER = "\\s*(?:№|no\\.?|#)?\\s*\\d";
  var ENTRANCE = "(?:под[ъ'’ʼ]?езд|пад[ъ'’ʼ]?езд|парадн(?:ая|ой|ую)|entrance)";
  var PATTERNS = [
    ENTRANCE + "[\\p{L}]*" + NUMBER,                                 // под'езд 4, пад'езда №2, entrance 4
    "\\d+\\s*(?:-?[\\p{L}]{1,2})?\\s*" + ENTRANCE,                     // 4-й подъезд, 2 entrance
    "(?:кв\\.?|квартир[\\p{L}]*|кватэр[\\p{L}]*|flat|apt\\.?|apartment)" + NUMBER,  // кв. 12, кватэра 5
    "(?:д\\.|дом|house|building|bldg\\.?|корп\\.?|корпус[\\p{L}]*)" + NUMBER,  // д. 5, дом 5
    "(?:ул\\.?|улиц[\\p{L}]*|вул\\.?|вуліц[\\p{L}]*|пр-т|просп\\.?|пр\\.|street|st\\.|str\\.)\\s*" +
      "[\\p{L}-]+(?:\\s+[\\p{L}-]+)?,?\\s*\\d",                      // ул. Кирова 8, vul. street 8
    "\\+\\s*\\d(?:[\\s\\-()]{0,2}\\d){4,}",                           // +375 29…, +7 916…
    "\\d(?:[\\s\\-()]{0,2}\\d){6,}",                                  // 8029 123 45 67, 2345678
    "8\\s*0\\s*\\(?\\s*(?:29|33|44|25|17)\\b",                        // 80 29, 8 (029
    "(?:тел\\.?|телефон|тэл\\.?|тэлефон|tel\\.?|phone)\\s*:?\\s*\\d",  // тел. 2…, phone: 3…
    "[\\p{L}\\p{N}._%+-]+@[\\p{L}\\p{N}-]+\\.[\\p{L}]{2,}",            // an e-mail address
    "@[A-Za-z0-9_]{3,}",                                              // @handle (Telegram, Instagram)
    "t\\.me/[A-Za-z0-9_]{3,}",                                        // t.me/handle
  ].map(function (source) { return new RegExp(NOT_AFTER + source, "giu"); });

  /** Every stretch of text that may point at a door, in the order found, each once. */
  function find(text) {
    var found = [];
    PATTERNS.forEach(function (pattern) {
      pattern.lastIndex = 0;
      var match;
      while ((match = pattern.exec(text || "")) !== null) {
        var bit = {text: match[0].trim(), start: match.index, end: match.index + match[0].length};
        if (!found.some(function (f) { return f.start < bit.end && bit.start < f.end; })) { found.push(bit); }
        if (match[0] === "") { pattern.lastIndex += 1; }
      }
    });
    return found.sort(function (a, b) { return a.start - b.start; });
  }
  window.mapaidWords = {find: find};

  var dialog = document.getElementById("words-dialog");
  var shown = document.getElementById("words-found");
  if (!dialog || typeof dialog.showModal !== "function" || !shown) { return; }  // then forms post as before

  var asking = null;  // {form, field, submitter, finds} while the dialog is open
  var accepted = null;  // the form she chose to send anyway: its next submit goes through

  function ask(form, field, submitter, finds) {
    asking = {form: form, field: field, submitter: submitter, finds: finds};
    shown.textContent = finds.map(function (f) { return "“" + f.text + "”"; }).join(", ");
    dialog.showModal();
  }

  function back() {
    var was = asking;
    asking = null;
    if (dialog.open) { dialog.close(); }
    if (was) {
      was.field.focus();
      was.field.setSelectionRange(was.finds[0].start, was.finds[0].end);
    }
  }

  document.getElementById("words-edit").addEventListener("click", back);
  dialog.addEventListener("cancel", function (event) { event.preventDefault(); back(); });  // Escape
  document.getElementById("words-send").addEventListener("click", function () {
    var was = asking;
    asking = null;
    dialog.close();
    if (!was) { return; }
    accepted = was.form;
    if (was.submitter) { was.submitter.click(); }  // the same button again, so its name and value go too
    else if (was.form.requestSubmit) { was.form.requestSubmit(); }
  });
  window.addEventListener("pageshow", function () { accepted = null; });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-words-check]"), function (form) {
    var field = form.querySelector("textarea[name=text]");
    if (!field) { return; }
    // Registered before the form's other scripts (posting.js makes the reply key on submit): stopping
    // here stops them too, so nothing is made or sent until she has chosen.
    form.addEventListener("submit", function (event) {
      if (accepted === form) { return; }
      var finds = find(field.value);
      if (!finds.length) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      ask(form, field, event.submitter || null, finds);
    });
  });
}());
