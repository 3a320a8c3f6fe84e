"""Cross-signing's pieces without a server: signatures over canonical JSON, the recovery key's
encoding, the secret-storage cipher, and the private keys' file. The end-to-end check (Element's
crypto stack agreeing that the device is signed) is in tests/test_e2ee_matrix.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.matrix.crosssign import (
    KEYS_FILE,
    CrossSignError,
    SigningKey,
    check_ssss_key,
    decode_recovery_key,
    encode_recovery_key,
    key_object,
    load_keys,
    save_keys,
    ssss_decrypt,
    ssss_encrypt,
    unb64,
)

USER = "@bot:example.org"


def verify(obj: dict[str, object], key: SigningKey) -> None:
    """What another client does: check the signature over the canonical JSON without signatures/unsigned."""
    signature = obj["signatures"][USER][key.key_id]  # type: ignore[index]
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    Ed25519PublicKey.from_public_bytes(unb64(key.public)).verify(unb64(str(signature)), encode_canonical_json(body))


def test_a_signature_covers_the_canonical_json_and_keeps_other_signatures() -> None:
    master, ssk = SigningKey.generate(), SigningKey.generate()
    device = {
        "user_id": USER,
        "device_id": "DEV",
        "keys": {"ed25519:DEV": "x"},
        "signatures": {USER: {"ed25519:DEV": "device-self-signature"}},
        "unsigned": {"device_display_name": "ccci-bot"},
    }
    signed = ssk.sign(device, USER)
    verify(signed, ssk)
    assert signed["signatures"][USER]["ed25519:DEV"] == "device-self-signature"
    assert "signatures" in device and ssk.key_id not in device["signatures"][USER]  # the input is not changed
    tampered = {**signed, "device_id": "OTHER"}
    with pytest.raises(InvalidSignature):
        verify(tampered, ssk)
    obj = master.sign(key_object(USER, "self_signing", ssk), USER)
    assert obj["keys"] == {ssk.key_id: ssk.public} and obj["usage"] == ["self_signing"]
    verify(obj, master)


def test_a_recovery_key_round_trips_and_a_typo_is_caught() -> None:
    key = os.urandom(32)
    text = encode_recovery_key(key)
    assert len(text.split()) == 12  # as Element shows it: twelve groups of four
    assert decode_recovery_key(text) == key
    assert decode_recovery_key(text.replace(" ", "")) == key
    flipped = text[:-1] + ("a" if text[-1] != "a" else "b")
    with pytest.raises(CrossSignError, match="malformed"):
        decode_recovery_key(flipped)
    with pytest.raises(CrossSignError, match="base58"):
        decode_recovery_key("0OIl" * 12)  # characters base58 does not have


def test_a_secret_decrypts_only_with_its_key_and_name() -> None:
    key, other = os.urandom(32), os.urandom(32)
    stored = ssss_encrypt(key, "m.cross_signing.self_signing", "c2VjcmV0", os.urandom(16))
    assert ssss_decrypt(key, "m.cross_signing.self_signing", stored) == "c2VjcmV0"
    with pytest.raises(CrossSignError, match="MAC mismatch"):
        ssss_decrypt(other, "m.cross_signing.self_signing", stored)
    with pytest.raises(CrossSignError, match="MAC mismatch"):
        ssss_decrypt(key, "m.cross_signing.master", stored)  # the name is bound into the keys (HKDF info)


def test_a_wrong_recovery_key_is_told_plainly() -> None:
    key = os.urandom(32)
    check = ssss_encrypt(key, "", "\0" * 32, os.urandom(16))
    description = {"algorithm": "m.secret_storage.v1.aes-hmac-sha2", "iv": check["iv"], "mac": check["mac"]}
    check_ssss_key(key, description)
    with pytest.raises(CrossSignError, match="does not open"):
        check_ssss_key(os.urandom(32), description)
    with pytest.raises(CrossSignError, match=r"not m\.secret_storage"):
        check_ssss_key(key, {"algorithm": "m.secret_storage.v0"})


def test_private_keys_are_kept_0600_and_only_for_their_account(tmp_path: Path) -> None:
    keys = {"master": SigningKey.generate(), "self_signing": SigningKey.generate()}
    save_keys(tmp_path, USER, keys)
    assert stat.S_IMODE((tmp_path / KEYS_FILE).stat().st_mode) == 0o600
    loaded = load_keys(tmp_path, USER)
    assert {k: v.public for k, v in loaded.items()} == {k: v.public for k, v in keys.items()}
    assert load_keys(tmp_path, "@someone-else:example.org") == {}
    (tmp_path / KEYS_FILE).write_text("not json")
    assert load_keys(tmp_path, USER) == {}
