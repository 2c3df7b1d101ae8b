/* mapaid: private replies, scheme version 1 (docs/replies.md), with the browser's own WebCrypto and no
 * library. It makes the key pairs whose private halves live only in private links' fragments, derives a
 * conversation's two message keys (ECDH, then HKDF-SHA-256 salted with both public keys) and seals and opens
 * messages with AES-256-GCM under a fresh random 12-byte nonce. Opening refuses anything whose tag does not
 * check (a changed byte, a cut, another post or direction): a message is shown whole or not at all.
 * It reproduces tests/data/reply-vectors.json, the vectors mapaid/replycrypto.py makes. */
(function () {
  "use strict";
  var subtle = window.crypto && window.crypto.subtle;
  var VERSION = "v1";
  var LABEL = "mapaid-reply-v1";
  var NONCE_BYTES = 12;
  var MAX_PLAINTEXT_BYTES = 4000;
  var MAX_MESSAGE_CHARS = VERSION.length + 1 + Math.floor((NONCE_BYTES + MAX_PLAINTEXT_BYTES + 16 + 2) * 4 / 3);
  var encoder = new TextEncoder();
  var decoder = new TextDecoder("utf-8", {fatal: true});
  // The DER prefixes of the two kinds of SubjectPublicKeyInfo the scheme takes (RFC 5480, RFC 8410).
  var SPKI_P256 = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
  var SPKI_X25519 = "302a300506032b656e032100";
  var ALGORITHMS = {p256: {name: "ECDH", namedCurve: "P-256"}, x25519: {name: "X25519"}};

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

  /* Which curve a public key text is on: "p256", "x25519", or a BadKey. */
  function curveOf(publicText) {
    var der = hex(unb64u(publicText));
    if (der.length === 91 * 2 && der.indexOf(SPKI_P256) === 0) { return "p256"; }
    if (der.length === 44 * 2 && der.indexOf(SPKI_X25519) === 0) { return "x25519"; }
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

  /* The 32 raw bytes of K_d: HKDF-SHA-256(ECDH(own, peer), SHA-256(label 0x00 spki(P) spki(R)),
   * label " " d). Either side of a conversation gets the same bytes for a direction. */
  function messageKeyBytes(ownPrivate, peerPublic, postKey, replierKey, direction) {
    if (!DIRECTIONS[direction]) { return Promise.reject(new BadKey("unknown direction")); }
    var curve;
    try {
      curve = curveOf(peerPublic);
      if (curveOf(postKey) !== curve || curveOf(replierKey) !== curve) { throw new BadKey("the two keys of a conversation must be on the same curve"); }
    } catch (error) { return Promise.reject(error); }
    var salt = subtle.digest("SHA-256", concat(LABEL, [0], unb64u(postKey), unb64u(replierKey)));
    var shared = Promise.all([importPrivate(ownPrivate, curve), importPublic(peerPublic)]).then(function (keys) {
      var params = curve === "x25519" ? {name: "X25519", public: keys[1]} : {name: "ECDH", public: keys[1]};
      return subtle.deriveBits(params, keys[0], 256);
    });
    return Promise.all([shared, salt]).then(function (both) {
      return subtle.importKey("raw", both[0], "HKDF", false, ["deriveBits"]).then(function (ikm) {
        return subtle.deriveBits({name: "HKDF", hash: "SHA-256", salt: both[1], info: encoder.encode(LABEL + " " + direction)}, ikm, 256);
      });
    });
  }

  function aesKey(bytes) {
    return subtle.importKey("raw", bytes, {name: "AES-GCM"}, false, ["encrypt", "decrypt"]);
  }

  function associatedData(postId, direction) {
    return concat(LABEL, [0], postId, [0], direction);
  }

  /* "v1." + base64url(nonce ‖ ciphertext ‖ tag). `nonce` is for the test vectors only: every real message
   * gets 12 fresh random bytes. */
  function seal(keyBytes, postId, direction, text, nonce) {
    var plain = encoder.encode(text);
    if (plain.length < 1 || plain.length > MAX_PLAINTEXT_BYTES) { return Promise.reject(new BadMessage("a message is 1 to 4000 bytes of UTF-8")); }
    var iv = nonce ? new Uint8Array(nonce) : window.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    if (iv.length !== NONCE_BYTES) { return Promise.reject(new BadMessage("the nonce is 12 bytes")); }
    return aesKey(keyBytes).then(function (key) {
      return subtle.encrypt({name: "AES-GCM", iv: iv, additionalData: associatedData(postId, direction), tagLength: 128}, key, plain);
    }).then(function (sealed) { return VERSION + "." + b64u(concat(iv, sealed)); });
  }

  function wellFormed(message) {
    if (typeof message !== "string" || message.indexOf(VERSION + ".") !== 0 || message.length > MAX_MESSAGE_CHARS) { return null; }
    try {
      var raw = unb64u(message.slice(VERSION.length + 1));
      return raw.length >= NONCE_BYTES + 1 + 16 ? raw : null;
    } catch (error) { return null; }
  }

  /* The text of a message, or a BadMessage: never part of one. */
  function open(keyBytes, postId, direction, message) {
    var raw = wellFormed(message);
    if (!raw) { return Promise.reject(new BadMessage("not a version-1 message")); }
    return aesKey(keyBytes).then(function (key) {
      return subtle.decrypt({name: "AES-GCM", iv: raw.slice(0, NONCE_BYTES), additionalData: associatedData(postId, direction), tagLength: 128},
        key, raw.slice(NONCE_BYTES));
    }).then(function (plain) { return decoder.decode(plain); }, function () {
      throw new BadMessage("the message does not decrypt: changed, cut short, or not for this key");
    });
  }

  /* One side of a conversation (as Party in replycrypto.py): write() seals for the other side, read() opens
   * either side's messages. Keys are derived once per direction and kept in this closure only. */
  function party(postId, postKey, replierKey, ownPrivate, poster) {
    var peer = poster ? replierKey : postKey;
    var keys = {};
    function key(direction) {
      if (!keys[direction]) { keys[direction] = messageKeyBytes(ownPrivate, peer, postKey, replierKey, direction); }
      return keys[direction];
    }
    var outgoing = poster ? "to-replier" : "to-poster";
    return {
      write: function (text) { return key(outgoing).then(function (k) { return seal(k, postId, outgoing, text); }); },
      read: function (message, sender) {
        var direction = sender === "poster" ? "to-replier" : "to-poster";
        return key(direction).then(function (k) { return open(k, postId, direction, message); });
      },
    };
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

  /* The private key text of a link's fragment ("#k=..."), or null. */
  function keyFromHash(hash) {
    var found = /^#k=([A-Za-z0-9_-]{40,400})$/.exec(hash || "");
    return found ? found[1] : null;
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
    seal: seal,
    open: open,
    party: party,
    keyFromHash: keyFromHash,
    publicOf: publicOf,
  };
}());
