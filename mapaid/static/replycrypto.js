/* mapaid: private replies (docs/replies.md), with the browser's own WebCrypto and no library; the same
 * scheme as mapaid/replycrypto.py and mapaid/replythread.py. It makes the key pairs whose private halves live
 * only in private links' fragments, derives a conversation's two message keys (ECDH, then HKDF-SHA-256
 * salted with both public keys) and seals and opens messages with AES-256-GCM under a fresh random 12-byte
 * nonce. Version 2 (what it writes) binds each message's counter, its day and the running hashes of both
 * directions into the tag and pads the text to a few sizes; version 1 is read only. A party reads a whole
 * conversation in order and stops at the first message that does not fit (changed, moved, replayed,
 * dropped before, re-dated, another key's), decrypting nothing after it, and writes no message after a
 * reading that stopped. It reproduces tests/data/reply-vectors.json. */
(function () {
  "use strict";
  var subtle = window.crypto && window.crypto.subtle;
  var VERSION = "v2";
  var LABELS = {v1: "mapaid-reply-v1", v2: "mapaid-reply-v2"};
  var NONCE_BYTES = 12;
  var TAG_BYTES = 16;
  var HEADER_BYTES = 14;  // counter (2), seen (2), day (10 ASCII)
  var MAX_PLAINTEXT_BYTES = 4000;
  var BUCKETS = [64, 256, 1024, 2 + MAX_PLAINTEXT_BYTES];
  function wireChars(rawBytes) { return 3 + Math.floor((rawBytes * 4 + 2) / 3); }
  var MAX_V1_CHARS = 3 + Math.floor((NONCE_BYTES + MAX_PLAINTEXT_BYTES + TAG_BYTES + 2) * 4 / 3);
  var MAX_V2_CHARS = wireChars(HEADER_BYTES + NONCE_BYTES + BUCKETS[BUCKETS.length - 1] + TAG_BYTES);
  var encoder = new TextEncoder();
  var decoder = new TextDecoder("utf-8", {fatal: true});
  // The DER prefixes of the two kinds of SubjectPublicKeyInfo the scheme takes (RFC 5480, RFC 8410).
  var SPKI_P256 = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
  var SPKI_X25519 = "302a300506032b656e032100";
  var ALGORITHMS = {p256: {name: "ECDH", namedCurve: "P-256"}, x25519: {name: "X25519"}};
  // X25519 public keys of small order (RFC 7748; libsodium's list), as little-endian hex: with one of them
  // ECDH gives a secret the other side's key does not enter. Keys at or above the prime are refused too.
  var SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ];

  function BadMessage(why) { this.name = "BadMessage"; this.message = why; }
  BadMessage.prototype = Object.create(Error.prototype);
  function BadKey(why) { this.name = "BadKey"; this.message = why; }
  BadKey.prototype = Object.create(Error.prototype);

  function b64u(bytes) {
    var view = new Uint8Array(bytes);
    var binary = "";
    for (var i = 0; i < view.length; i++) { binary += String.fromCharCode(view[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64u(text) {
    if (typeof text !== "string" || !text || text.length % 4 === 1 || !/^[A-Za-z0-9_-]+$/.test(text)) {
      throw new BadKey("not base64url");
    }
    var binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice(0, (4 - text.length % 4) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    // One canonical spelling (docs/replies.md): otherwise a changed last character can decode to the
    // same bytes, and a message changed on the server would read as unchanged.
    if (b64u(bytes) !== text) { throw new BadKey("not canonical base64url"); }
    return bytes;
  }

  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function concat() {
    var parts = Array.prototype.map.call(arguments, function (p) { return typeof p === "string" ? encoder.encode(p) : new Uint8Array(p); });
    var out = new Uint8Array(parts.reduce(function (n, p) { return n + p.length; }, 0));
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  /* Whether 32 little-endian bytes (hex) are an X25519 public key the scheme takes: below the prime
   * 2^255 - 19 (so the top bit clear, as WebCrypto exports) and not of small order. */
  function goodX25519(u) {
    if (parseInt(u.slice(62, 64), 16) >= 0x80) { return false; }
    var atLeastPrime = u.slice(62, 64) === "7f" && /^f*$/.test(u.slice(2, 62)) && parseInt(u.slice(0, 2), 16) >= 0xed;
    return !atLeastPrime && SMALL_ORDER.indexOf(u) < 0;
  }

  /* Which curve a public key text is on: "p256", "x25519", or a BadKey. */
  function curveOf(publicText) {
    var der = hex(unb64u(publicText));
    if (der.length === 91 * 2 && der.indexOf(SPKI_P256) === 0) { return "p256"; }
    if (der.length === 44 * 2 && der.indexOf(SPKI_X25519) === 0) {
      if (!goodX25519(der.slice(SPKI_X25519.length))) { throw new BadKey("an X25519 key of small order or not in its canonical form"); }
      return "x25519";
    }
    throw new BadKey("not a P-256 or X25519 public key");
  }

  var detected = null;
  /* The curve this browser makes its own posts' keys on: X25519 where WebCrypto has it (found by trying),
   * else P-256. */
  function preferredCurve() {
    if (!detected) {
      detected = subtle.generateKey(ALGORITHMS.x25519, true, ["deriveBits"])
        .then(function () { return "x25519"; }, function () { return "p256"; });
    }
    return detected;
  }

  /* A fresh key pair as {curve, private, public}: the texts of docs/replies.md. */
  function generate(curve) {
    return subtle.generateKey(ALGORITHMS[curve], true, ["deriveBits"]).then(function (pair) {
      return Promise.all([subtle.exportKey("pkcs8", pair.privateKey), subtle.exportKey("spki", pair.publicKey)]);
    }).then(function (both) { return {curve: curve, private: b64u(both[0]), public: b64u(both[1])}; });
  }

  function importPublic(text) {
    return subtle.importKey("spki", unb64u(text), ALGORITHMS[curveOf(text)], true, []);
  }

  function importPrivate(text, curve) {
    return subtle.importKey("pkcs8", unb64u(text), ALGORITHMS[curve], false, ["deriveBits"]);
  }

  var DIRECTIONS = {"to-poster": true, "to-replier": true};
  function other(direction) { return direction === "to-poster" ? "to-replier" : "to-poster"; }
  function directionOf(sender) { return sender === "replier" ? "to-poster" : "to-replier"; }

  /* The 32 raw bytes of K_d: HKDF-SHA-256(ECDH(own, peer), SHA-256(label 0x00 spki(P) spki(R)),
   * label " " d), the label of the version ("v2" unless told). Either side gets the same bytes. */
  function messageKeyBytes(ownPrivate, peerPublic, postKey, replierKey, direction, version) {
    var label = LABELS[version || VERSION];
    if (!DIRECTIONS[direction] || !label) { return Promise.reject(new BadKey("unknown direction or version")); }
    var curve;
    try {
      curve = curveOf(peerPublic);
      if (curveOf(postKey) !== curve || curveOf(replierKey) !== curve) { throw new BadKey("the two keys of a conversation must be on the same curve"); }
    } catch (error) { return Promise.reject(error); }
    var salt = subtle.digest("SHA-256", concat(label, [0], unb64u(postKey), unb64u(replierKey)));
    var shared = Promise.all([importPrivate(ownPrivate, curve), importPublic(peerPublic)]).then(function (keys) {
      var params = curve === "x25519" ? {name: "X25519", public: keys[1]} : {name: "ECDH", public: keys[1]};
      return subtle.deriveBits(params, keys[0], 256);
    });
    return Promise.all([shared, salt]).then(function (both) {
      return subtle.importKey("raw", both[0], "HKDF", false, ["deriveBits"]).then(function (ikm) {
        return subtle.deriveBits({name: "HKDF", hash: "SHA-256", salt: both[1], info: encoder.encode(label + " " + direction)}, ikm, 256);
      });
    });
  }

  function aesKey(bytes) {
    return subtle.importKey("raw", bytes, {name: "AES-GCM"}, false, ["encrypt", "decrypt"]);
  }

  function sha256(bytes) {
    return subtle.digest("SHA-256", bytes).then(function (digest) { return new Uint8Array(digest); });
  }

  /* The raw bytes after "vN.", if the text is one of version `version`, no longer than `longest` and at
   * least `shortest` bytes; else null. */
  function rawOf(message, version, longest, shortest) {
    if (typeof message !== "string" || message.indexOf(version + ".") !== 0 || message.length > longest) { return null; }
    try {
      var raw = unb64u(message.slice(version.length + 1));
      return raw.length >= shortest ? raw : null;
    } catch (error) { return null; }
  }

  function decryptOr(keyBytes, iv, sealed, aad, why) {
    return aesKey(keyBytes).then(function (key) {
      return subtle.decrypt({name: "AES-GCM", iv: iv, additionalData: aad, tagLength: 128}, key, sealed);
    }).then(function (plain) { return new Uint8Array(plain); }, function () { throw new BadMessage(why); });
  }

  function utf8(bytes) {
    try { return decoder.decode(bytes); } catch (error) { throw new BadMessage("the message is not UTF-8 text"); }
  }

  // -- version 1: read only -------------------------------------------------------------------------
  function associatedDataV1(postId, direction) {
    return concat(LABELS.v1, [0], postId, [0], direction);
  }

  /* A version-1 message, for the test vectors only (nothing writes version 1 any more). */
  function sealV1(keyBytes, postId, direction, text, nonce) {
    return aesKey(keyBytes).then(function (key) {
      return subtle.encrypt({name: "AES-GCM", iv: new Uint8Array(nonce), additionalData: associatedDataV1(postId, direction), tagLength: 128}, key, encoder.encode(text));
    }).then(function (sealed) { return "v1." + b64u(concat(nonce, sealed)); });
  }

  function openV1(keyBytes, postId, direction, message) {
    var raw = rawOf(message, "v1", MAX_V1_CHARS, NONCE_BYTES + 1 + TAG_BYTES);
    if (!raw) { return Promise.reject(new BadMessage("not a version-1 message")); }
    return decryptOr(keyBytes, raw.slice(0, NONCE_BYTES), raw.slice(NONCE_BYTES), associatedDataV1(postId, direction),
      "the message does not decrypt: changed, cut short, or not for this key").then(utf8);
  }

  // -- version 2 ------------------------------------------------------------------------------------
  function isDay(text) {
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) { return false; }
    var parsed = new Date(text + "T00:00:00Z");
    return !isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === text;
  }

  /* {counter, seen, day} as the 14 header bytes. */
  function packHeader(header) {
    var ok = [header.counter, header.seen].every(function (n) { return n === Math.floor(n) && n >= 0 && n <= 0xFFFF; });
    if (!ok || !isDay(header.day)) { throw new BadMessage("a header has two counts of 0 to 65535 and a day YYYY-MM-DD"); }
    return concat([header.counter >> 8, header.counter & 0xFF, header.seen >> 8, header.seen & 0xFF], header.day);
  }

  /* The header of a well-formed version-2 message, or null: what the server checks without a key. */
  function headerOf(message) {
    var raw = rawOf(message, "v2", MAX_V2_CHARS, HEADER_BYTES + NONCE_BYTES + BUCKETS[0] + TAG_BYTES);
    if (!raw || BUCKETS.indexOf(raw.length - HEADER_BYTES - NONCE_BYTES - TAG_BYTES) < 0) { return null; }
    var day = String.fromCharCode.apply(null, raw.slice(4, HEADER_BYTES));
    if (!isDay(day)) { return null; }
    return {counter: raw[0] * 256 + raw[1], seen: raw[2] * 256 + raw[3], day: day};
  }

  /* Where both directions' running hashes begin: binds the post and both public keys. */
  function startHash(postId, postKey, replierKey) {
    return sha256(concat(LABELS.v2, [0], "start", [0], postId, [0], unb64u(postKey), unb64u(replierKey)));
  }

  /* A direction's running hash after one more of its messages (of either version, as stored). */
  function chainNext(chain, wire) {
    return sha256(concat(chain, wire));
  }

  function associatedData(postId, direction, header, ownChain, seenChain) {
    return concat(LABELS.v2, [0], postId, [0], direction, [0], packHeader(header), ownChain, seenChain);
  }

  /* 2-byte length, the UTF-8 text, zeros to the smallest bucket that holds it. */
  function pad(text) {
    var plain = encoder.encode(text);
    if (plain.length < 1 || plain.length > MAX_PLAINTEXT_BYTES) { throw new BadMessage("a message is 1 to 4000 bytes of UTF-8"); }
    var size = BUCKETS.filter(function (b) { return b >= plain.length + 2; })[0];
    var out = new Uint8Array(size);
    out[0] = plain.length >> 8;
    out[1] = plain.length & 0xFF;
    out.set(plain, 2);
    return out;
  }

  function unpad(padded) {
    var length = padded[0] * 256 + padded[1];
    var fits = BUCKETS.filter(function (b) { return b >= length + 2; })[0];
    if (BUCKETS.indexOf(padded.length) < 0 || length < 1 || length > MAX_PLAINTEXT_BYTES || fits !== padded.length) {
      throw new BadMessage("the message's padding is not the scheme's");
    }
    for (var i = 2 + length; i < padded.length; i++) {
      if (padded[i] !== 0) { throw new BadMessage("the message's padding is not the scheme's"); }
    }
    return utf8(padded.slice(2, 2 + length));
  }

  /* "v2." + base64url(header ‖ nonce ‖ AES-256-GCM(padded text) ‖ tag). `nonce` is for the test vectors
   * only: every real message gets 12 fresh random bytes. */
  function seal(keyBytes, postId, direction, text, header, ownChain, seenChain, nonce) {
    var iv = nonce ? new Uint8Array(nonce) : window.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    var plain, aad;
    try {
      if (iv.length !== NONCE_BYTES) { throw new BadMessage("the nonce is 12 bytes"); }
      plain = pad(text);
      aad = associatedData(postId, direction, header, ownChain, seenChain);
    } catch (error) { return Promise.reject(error); }
    return aesKey(keyBytes).then(function (key) {
      return subtle.encrypt({name: "AES-GCM", iv: iv, additionalData: aad, tagLength: 128}, key, plain);
    }).then(function (sealed) { return "v2." + b64u(concat(packHeader(header), iv, sealed)); });
  }

  /* {header, text} of a version-2 message, given the running hashes its reader expects; a BadMessage when it
   * does not decrypt against them. Never part of a message. */
  function open(keyBytes, postId, direction, message, ownChain, seenChain) {
    var header = headerOf(message);
    if (!header) { return Promise.reject(new BadMessage("not a version-2 message")); }
    var raw = unb64u(message.slice(3));
    var aad = associatedData(postId, direction, header, ownChain, seenChain);
    return decryptOr(keyBytes, raw.slice(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES), raw.slice(HEADER_BYTES + NONCE_BYTES), aad,
      "the message does not decrypt: changed, moved, or not for this key").then(function (padded) {
      return {header: header, text: unpad(padded)};
    });
  }

  /* One side of a conversation (Party in mapaid/replythread.py). readAll(messages) reads the API's messages
   * ({from, message, day}) oldest first into a reading: {shown: [{from, text, day, version}], why (null, or
   * "damaged", "order", "day": why it stopped), unread, chains}; nothing after the message it stopped at is
   * decrypted. write(text, day, reading) seals the next message after a reading that did not stop. Keys are
   * derived once per direction and version and kept in this closure only. */
  function party(postId, postKey, replierKey, ownPrivate, poster) {
    var peer = poster ? replierKey : postKey;
    var keys = {};
    function key(direction, version) {
      var name = direction + " " + version;
      if (!keys[name]) { keys[name] = messageKeyBytes(ownPrivate, peer, postKey, replierKey, direction, version); }
      return keys[name];
    }
    // Why one message does not fit (a string), or null after taking it into the reading.
    function readOne(reading, m) {
      if ((m.from !== "poster" && m.from !== "replier") || typeof m.message !== "string" || typeof m.day !== "string") {
        return Promise.resolve("damaged");
      }
      var d = directionOf(m.from);
      var own = reading.chains[d];
      var opened;
      if (m.message.indexOf("v1.") === 0) {
        if (reading.v2[d]) { return Promise.resolve("order"); }
        opened = key(d, "v1").then(function (k) { return openV1(k, postId, d, m.message); })
          .then(function (text) { return {text: text, day: m.day, version: "v1"}; });
      } else {
        var header = headerOf(m.message);
        if (!header) { return Promise.resolve("damaged"); }
        if (header.counter !== own.length - 1 || header.seen > reading.chains[other(d)].length - 1) { return Promise.resolve("order"); }
        opened = key(d, "v2").then(function (k) {
          return open(k, postId, d, m.message, own[own.length - 1], reading.chains[other(d)][header.seen]);
        }).then(function (found) { return {text: found.text, day: found.header.day, version: "v2"}; });
      }
      return opened.then(function (read) {
        if (read.day !== m.day) { return "day"; }
        if (read.version === "v2") { reading.v2[d] = true; }
        reading.shown.push({from: m.from, text: read.text, day: read.day, version: read.version});
        return chainNext(own[own.length - 1], m.message).then(function (chain) { own.push(chain); return null; });
      }, function (error) {
        if (error && error.name === "NotSupportedError") { throw error; }  // this browser, not the message
        return "damaged";
      });
    }
    function readAll(messages) {
      return startHash(postId, postKey, replierKey).then(function (start) {
        var reading = {shown: [], total: messages.length, why: null, unread: 0, chains: {"to-poster": [start], "to-replier": [start]}, v2: {}};
        function from(i) {
          if (i >= messages.length) { return reading; }
          return readOne(reading, messages[i]).then(function (why) {
            if (!why) { return from(i + 1); }
            reading.why = why;
            reading.unread = messages.length - i - 1;
            return reading;
          });
        }
        return from(0);
      });
    }
    var outgoing = poster ? "to-replier" : "to-poster";
    function write(text, day, reading) {
      return (reading ? Promise.resolve(reading) : readAll([])).then(function (r) {
        if (r.why) { throw new BadMessage("this conversation was changed on the server; no new message can go into it"); }
        var mine = r.chains[outgoing], theirs = r.chains[other(outgoing)];
        var header = {counter: mine.length - 1, seen: theirs.length - 1, day: day};
        return key(outgoing, "v2").then(function (k) {
          return seal(k, postId, outgoing, text, header, mine[mine.length - 1], theirs[theirs.length - 1]);
        });
      });
    }
    return {readAll: readAll, write: write, key: key, outgoing: outgoing};
  }

  /* What a replier's link carries of the post's key ("&p="): base64url of the first 16 bytes of
   * SHA-256(SPKI), so a post key swapped on the server is noticed. */
  function fingerprint(publicText) {
    return sha256(unb64u(publicText)).then(function (digest) { return b64u(digest.slice(0, 16)); });
  }

  /* The public key text that belongs to a private key text: a link's key is checked against its post's or
   * conversation's public key before anything is read with it. */
  function publicOf(privateText, curve) {
    var algorithm = ALGORITHMS[curve];
    return subtle.importKey("pkcs8", unb64u(privateText), algorithm, true, ["deriveBits"]).then(function (key) {
      return subtle.exportKey("jwk", key);
    }).then(function (jwk) {
      var pub = {kty: jwk.kty, crv: jwk.crv, x: jwk.x};
      if (jwk.y) { pub.y = jwk.y; }
      return subtle.importKey("jwk", pub, algorithm, true, []);
    }).then(function (key) { return subtle.exportKey("spki", key); }).then(b64u);
  }

  /* The private key text of a link's fragment ("#k=...", and on a replier's link "&p=<fingerprint of the
   * post's key>"), as {key, post} (post: null on links made before it was added), or null. */
  function keyFromHash(hash) {
    var found = /^#k=([A-Za-z0-9_-]{40,400})(?:&p=([A-Za-z0-9_-]{22}))?$/.exec(hash || "");
    return found ? {key: found[1], post: found[2] || null} : null;
  }

  window.mapaidReplyCrypto = {
    available: Boolean(subtle && window.TextEncoder),
    VERSION: VERSION,
    BadMessage: BadMessage,
    BadKey: BadKey,
    b64u: b64u,
    unb64u: unb64u,
    hex: hex,
    curveOf: curveOf,
    preferredCurve: preferredCurve,
    generate: generate,
    messageKeyBytes: messageKeyBytes,
    sealV1: sealV1,
    openV1: openV1,
    headerOf: headerOf,
    startHash: startHash,
    pad: pad,
    seal: seal,
    open: open,
    party: party,
    fingerprint: fingerprint,
    keyFromHash: keyFromHash,
    publicOf: publicOf,
  };
}());
