// "Check this record": the signed bytes on a record page, checked in the visitor's own
// browser, so nobody has to trust the server (docs/site.md, "Checking a record").
//
// It reads the envelope, signature and body as hex from the page, decodes the
// envelope (a msgpack array of nine values, docs/protocol.md section 3) to find the
// origin key and body_sha256, and checks:
//   - the Ed25519 signature over the envelope bytes, with the origin key the
//     envelope itself names (the vendored @noble/ed25519, RFC 8032 rules);
//   - SHA-256 of the body against the envelope's body_sha256 and body_len;
//   - SHA-256 of the envelope against the record id in the page's address.
// Ed25519's SHA-512 comes from the vendored @noble/hashes, so the check runs the
// same everywhere. SHA-256 comes from the browser's crypto.subtle where it exists;
// browsers give it only to secure contexts (https, http://localhost, .onion in Tor
// Browser), so on a plain-http address the check uses @noble/hashes' SHA-256 instead
// and says so. Loaded as a module from this origin only; it imports the two vendored
// modules from this origin and fetches nothing else.

const section = document.getElementById("check");

function hexToBytes(hex) {
  const clean = hex.trim();
  if (clean.length % 2 !== 0 || /[^0-9a-f]/.test(clean)) {
    throw new Error("not hex");
  }
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The nine values of an envelope: only the msgpack types an envelope may hold.
function decodeEnvelope(bytes) {
  let at = 0;
  const take = (n) => {
    if (at + n > bytes.length) throw new Error("envelope too short");
    const part = bytes.subarray(at, at + n);
    at += n;
    return part;
  };
  const uint = (n) => take(n).reduce((value, b) => value * 256 + b, 0);
  const value = () => {
    const tag = take(1)[0];
    if (tag <= 0x7f) return tag;
    if (tag >= 0xa0 && tag <= 0xbf) return new TextDecoder().decode(take(tag - 0xa0));
    if (tag === 0xd9) return new TextDecoder().decode(take(uint(1)));
    if (tag === 0xc4) return take(uint(1));
    if (tag === 0xcc) return uint(1);
    if (tag === 0xcd) return uint(2);
    if (tag === 0xce) return uint(4);
    if (tag === 0xcf) return uint(8);
    throw new Error("unexpected value in envelope");
  };
  if (take(1)[0] !== 0x99) throw new Error("not an envelope");
  const fields = Array.from({ length: 9 }, value);
  if (at !== bytes.length) throw new Error("bytes after the envelope");
  const [, networkId, origin, audience, seq, createdMs, kind, bodySha256, bodyLen] = fields;
  return { networkId, origin, audience, seq, createdMs, kind, bodySha256, bodyLen };
}

function equal(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function messages() {
  const found = {};
  const template = document.getElementById("check-messages");
  for (const span of template.content.querySelectorAll("[data-key]")) {
    found[span.dataset.key] = span.textContent;
  }
  return found;
}

function show(text, verdict, details) {
  const result = document.getElementById("check-result");
  const line = document.getElementById("check-verdict");
  const list = document.getElementById("check-details");
  line.textContent = text;
  line.dataset.verdict = verdict;
  result.dataset.verdict = verdict;
  list.replaceChildren(
    ...details.map(([ok, message]) => {
      const item = document.createElement("li");
      item.dataset.ok = ok ? "yes" : "no";
      item.textContent = message;
      return item;
    }),
  );
  result.hidden = false;
}

const subtle = globalThis.crypto && globalThis.crypto.subtle;

async function sha256With(hashes, bytes) {
  if (subtle) {
    return new Uint8Array(await subtle.digest("SHA-256", bytes));
  }
  return hashes.sha256(bytes);
}

async function check() {
  const say = messages();
  document.getElementById("check-nojs").hidden = true;
  show(say.checking, "checking", []);
  let ed;
  let hashes;
  try {
    ed = await import(section.dataset.ed25519);
    hashes = await import(section.dataset.sha2);
    ed.etc.sha512Sync = (...parts) => hashes.sha512(ed.etc.concatBytes(...parts));
  } catch {
    show(say.failed, "unchecked", []);
    return;
  }
  try {
    const envelopeBytes = hexToBytes(document.getElementById("check-envelope").textContent);
    const signature = hexToBytes(document.getElementById("check-signature").textContent);
    const bodyElement = document.getElementById("check-body");
    const envelope = decodeEnvelope(envelopeBytes);
    const details = [];
    let valid = true;

    let signed = false;
    try {
      // RFC 8032's rules, as the nodes' own check (not ZIP 215's looser ones).
      signed = ed.verify(signature, envelopeBytes, envelope.origin, { zip215: false });
    } catch {
      signed = false;
    }
    details.push([signed, signed ? say.signature_ok : say.signature_bad]);
    valid = valid && signed;

    const id = bytesToHex(await sha256With(hashes, envelopeBytes));
    const idMatches = id === section.dataset.recordId;
    details.push([idMatches, idMatches ? say.id_ok : say.id_bad]);
    valid = valid && idMatches;

    if (bodyElement) {
      const body = hexToBytes(bodyElement.textContent);
      const hashed = body.length === envelope.bodyLen
        && equal(await sha256With(hashes, body), envelope.bodySha256);
      details.push([hashed, hashed ? say.hash_ok : say.hash_bad]);
      valid = valid && hashed;
    } else {
      details.push([true, say.hash_none]);
    }
    if (!subtle) {
      details.push([true, say.insecure]);
    }
    show(valid ? say.valid : say.invalid, valid ? "valid" : "invalid", details);
  } catch {
    show(say.invalid, "invalid", [[false, say.malformed]]);
  }
}

if (section && section.dataset.ed25519) {
  check();
}
