"""What another member's client concludes about a user's device: is it signed by its owner?

Element's crypto calls this ``signedByOwner``: the account's master key signs its self-signing key,
and the self-signing key signs the device's keys. nio has no cross-signing, so the demo's operator
checks the chain itself from a ``/keys/query`` answer, verifying each Ed25519 signature over the
object's canonical JSON (without ``signatures`` and ``unsigned``). Whether the master key itself is
trusted is the person's call (verifying the user in Element); this says what the keys prove.
"""

from __future__ import annotations

from typing import Any

from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.matrix.crosssign import unb64


def signed_by(obj: dict[str, Any], user_id: str, public_key: str) -> bool:
    """Whether ``obj`` carries a valid signature by the Ed25519 key ``public_key`` (unpadded base64)."""
    signature = ((obj.get("signatures") or {}).get(user_id) or {}).get(f"ed25519:{public_key}")
    if not isinstance(signature, str):
        return False
    unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    try:
        Ed25519PublicKey.from_public_bytes(unb64(public_key)).verify(unb64(signature), encode_canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        return False
    return True


def _cross_signing_key(query: dict[str, Any], kind: str, usage: str, user_id: str) -> tuple[dict[str, Any], str]:
    obj = (query.get(kind) or {}).get(user_id) or {}
    keys = [str(k) for k in (obj.get("keys") or {}).values()]
    if obj.get("user_id") != user_id or usage not in (obj.get("usage") or []) or len(keys) != 1:
        return {}, ""
    return obj, keys[0]


def signed_by_owner(query: dict[str, Any], user_id: str, device_id: str) -> bool:
    """Master → self-signing → device, every link a valid signature (from a ``/keys/query`` answer)."""
    _, master = _cross_signing_key(query, "master_keys", "master", user_id)
    self_signing, ssk = _cross_signing_key(query, "self_signing_keys", "self_signing", user_id)
    device = ((query.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    if not master or not ssk or not isinstance(device, dict):
        return False
    return signed_by(self_signing, user_id, master) and signed_by(device, user_id, ssk)
