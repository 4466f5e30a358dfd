"""Independent DSSE / in-toto implementation for pkgward's interop test.

Run by crates/pkgward/tests/attestation_interop.rs. Uses securesystemslib for
Ed25519: its DSSE `Envelope` when the installed version has one
(securesystemslib >= 0.28), otherwise (Debian 12 ships 0.26, which has no
DSSE module) its ed25519 `SSlibSigner` / `SSlibKey` with the envelope and PAE
written here from the DSSE specification. PAE is always also computed here,
independently of both pkgward and securesystemslib.

  dsse_interop.py pae-vector
  dsse_interop.py verify ENVELOPE PUBLIC_KEY ARTIFACT POLICY_SHA256
  dsse_interop.py sign ARTIFACT OUT_ENVELOPE POLICY_SHA256 TIME
      (prints the signer's public key as ed25519:<base64>)

Exit status 0 on success; any failure raises.
"""

import base64
import hashlib
import json
import sys

import securesystemslib
from securesystemslib.signer import Signature, SSlibKey

try:
    from securesystemslib.dsse import Envelope
except ImportError:
    Envelope = None

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://pkgward.dev/attestation/footprint/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, lengths in bytes."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def b64decode_either(text: str) -> bytes:
    """DSSE allows standard or URL-safe base64."""
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def key_from_text(text: str) -> SSlibKey:
    assert text.startswith("ed25519:"), text
    raw = base64.b64decode(text[len("ed25519:"):], validate=True)
    assert len(raw) == 32
    keyid = hashlib.sha256(raw).hexdigest()
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})


def pae_vector() -> None:
    got = pae("http://example.com/HelloWorld", b"hello world")
    assert got == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world", got
    got = pae("t\u00ffpe/\u00fcber", b"x")
    assert got == "DSSEv1 11 t\u00ffpe/\u00fcber 1 x".encode("utf-8"), got
    print("pae: spec vector and multi-byte type ok")


def verify(envelope_path: str, public_key_text: str, artifact: str, policy_sha256: str) -> None:
    key = key_from_text(public_key_text)
    with open(envelope_path, "rb") as handle:
        document = json.load(handle)
    payload = b64decode_either(document["payload"])
    payload_type = document["payloadType"]
    assert payload_type == PAYLOAD_TYPE, payload_type
    message = pae(payload_type, payload)

    verified = 0
    for entry in document["signatures"]:
        signature = Signature(key.keyid, b64decode_either(entry["sig"]).hex())
        key.verify_signature(signature, message)  # raises on failure
        verified += 1
        # The verifier must not be vacuous: a one-byte change must fail.
        tampered = bytearray(message)
        tampered[-2] ^= 1
        try:
            key.verify_signature(signature, bytes(tampered))
        except Exception:  # noqa: BLE001 - any refusal is the expected outcome
            pass
        else:
            raise AssertionError("securesystemslib accepted a tampered PAE")
    assert verified >= 1
    how = "securesystemslib %s SSlibKey.verify_signature over independently computed PAE" % securesystemslib.__version__

    if Envelope is not None:
        envelope = Envelope.from_dict(dict(document))
        assert envelope.pae() == message, "securesystemslib PAE differs from ours"
        accepted = envelope.verify([key], 1)
        assert key.keyid in accepted, accepted
        how += " and securesystemslib.dsse.Envelope.verify"

    statement = json.loads(payload)
    assert statement["_type"] == STATEMENT_TYPE, statement["_type"]
    assert statement["predicateType"] == PREDICATE_TYPE, statement["predicateType"]
    with open(artifact, "rb") as handle:
        artifact_sha256 = hashlib.sha256(handle.read()).hexdigest()
    assert any(s["digest"].get("sha256") == artifact_sha256 for s in statement["subject"]), statement["subject"]
    predicate = statement["predicate"]
    assert predicate["policy"]["digest"]["sha256"] == policy_sha256, predicate["policy"]
    assert predicate["verdict"] in ("PASSED", "FAILED"), predicate["verdict"]
    print("verified pkgward envelope with " + how)


def sign(artifact: str, out_path: str, policy_sha256: str, time_verified: str) -> None:
    with open(artifact, "rb") as handle:
        artifact_sha256 = hashlib.sha256(handle.read()).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": artifact.rsplit("/", 1)[-1], "digest": {"sha256": artifact_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": "python-securesystemslib"},
            "policy": {"digest": {"sha256": policy_sha256}},
            "footprint": {"files": ["/usr/bin/hello"]},
            "verdict": "PASSED",
            "timeVerified": time_verified,
            "pkgwardVersion": "python-interop",
        },
    }
    payload = json.dumps(statement, separators=(",", ":")).encode("utf-8")

    signer, public_hex = make_signer()
    public_text = "ed25519:" + base64.b64encode(bytes.fromhex(public_hex)).decode()
    keyid = hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()
    if Envelope is not None:
        envelope = Envelope(payload, PAYLOAD_TYPE, {})
        envelope.sign(signer)
        document = envelope.to_dict()
        how = "securesystemslib.dsse.Envelope.sign"
    else:
        signature = signer.sign(pae(PAYLOAD_TYPE, payload))
        document = {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": keyid, "sig": base64.b64encode(bytes.fromhex(signature.signature)).decode()}],
        }
        how = "securesystemslib %s SSlibSigner over independently computed PAE" % securesystemslib.__version__
    with open(out_path, "w") as handle:
        json.dump(document, handle)
    sys.stderr.write("signed with " + how + "\n")
    print(public_text)


def make_signer():
    """An ed25519 signer and its raw public key (hex), for this version."""
    try:
        from securesystemslib.signer import CryptoSigner  # >= 0.28

        signer = CryptoSigner.generate_ed25519()
        return signer, signer.public_key.keyval["public"]
    except ImportError:
        from securesystemslib import keys
        from securesystemslib.signer import SSlibSigner

        key_dict = keys.generate_ed25519_key()
        return SSlibSigner(key_dict), key_dict["keyval"]["public"]


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    {"pae-vector": pae_vector, "verify": verify, "sign": sign}[command](*arguments)
