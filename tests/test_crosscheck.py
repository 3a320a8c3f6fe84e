"""The demo operator's check of another user's device (demo/crosscheck.py), without a server: a whole
master → self-signing → device chain passes; a missing, forged or swapped link does not. The bot's own
signing code makes the keys, so this also checks that what the bot signs verifies from the other side."""

from __future__ import annotations

from typing import Any

from bot.matrix.crosssign import SigningKey, key_object
from demo.crosscheck import signed_by_owner

USER = "@bot:example.org"
DEVICE = "BOTDEVICE"


def keys_query(master: SigningKey, ssk: SigningKey, device_signer: SigningKey | None) -> dict[str, Any]:
    """A /keys/query answer for USER as Synapse gives it."""
    device: dict[str, Any] = {
        "user_id": USER,
        "device_id": DEVICE,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"ed25519:{DEVICE}": "device-ed25519", f"curve25519:{DEVICE}": "device-curve25519"},
        "signatures": {USER: {f"ed25519:{DEVICE}": "device-self-signature"}},
        "unsigned": {"device_display_name": "ccci-bot"},
    }
    return {
        "device_keys": {USER: {DEVICE: device_signer.sign(device, USER) if device_signer else device}},
        "master_keys": {USER: key_object(USER, "master", master)},
        "self_signing_keys": {USER: master.sign(key_object(USER, "self_signing", ssk), USER)},
    }


def test_a_whole_chain_is_signed_by_its_owner() -> None:
    master, ssk = SigningKey.generate(), SigningKey.generate()
    query = keys_query(master, ssk, ssk)
    assert signed_by_owner(query, USER, DEVICE)
    # what the server adds for the reader (unsigned) is not part of what was signed
    query["device_keys"][USER][DEVICE]["unsigned"] = {"device_display_name": "renamed"}
    assert signed_by_owner(query, USER, DEVICE)
    assert not signed_by_owner(query, USER, "OTHERDEVICE")
    assert not signed_by_owner(query, "@someone:example.org", DEVICE)


def test_a_device_without_its_self_signing_signature_is_not() -> None:
    master, ssk = SigningKey.generate(), SigningKey.generate()
    assert not signed_by_owner(keys_query(master, ssk, None), USER, DEVICE)
    assert not signed_by_owner(keys_query(master, ssk, SigningKey.generate()), USER, DEVICE)  # another key
    assert not signed_by_owner(keys_query(master, ssk, master), USER, DEVICE)  # the master key is not the signer


def test_a_forged_or_unanchored_link_breaks_the_chain() -> None:
    master, ssk = SigningKey.generate(), SigningKey.generate()
    tampered = keys_query(master, ssk, ssk)
    tampered["device_keys"][USER][DEVICE]["keys"][f"curve25519:{DEVICE}"] = "someone-elses-key"
    assert not signed_by_owner(tampered, USER, DEVICE)

    swapped = keys_query(master, ssk, ssk)  # a self-signing key the master key never signed
    swapped["self_signing_keys"][USER] = key_object(USER, "self_signing", ssk)
    assert not signed_by_owner(swapped, USER, DEVICE)

    no_master = keys_query(master, ssk, ssk)
    del no_master["master_keys"]
    assert not signed_by_owner(no_master, USER, DEVICE)

    wrong_usage = keys_query(master, ssk, ssk)
    wrong_usage["self_signing_keys"][USER] = master.sign(key_object(USER, "user_signing", ssk), USER)
    assert not signed_by_owner(wrong_usage, USER, DEVICE)

    garbage = keys_query(master, ssk, ssk)
    garbage["device_keys"][USER][DEVICE]["signatures"][USER][ssk.key_id] = "not base64!"
    assert not signed_by_owner(garbage, USER, DEVICE)
