"""Cross-signing the bot's own device, over the client-server API (nio has no cross-signing).

Element shows a device as verified by its owner when the account's self-signing key signed it. The
bot gets that key one of two ways:

* the account has no cross-signing keys yet: make master, self-signing and user-signing keys
  (Ed25519), upload them — Synapse asks for user-interactive auth, answered with the password — and
  keep the private keys in ``data_dir/cross-signing.json`` (0600);
* the account has them (a person made them in Element): read the self-signing key from secret
  storage (SSSS, ``m.secret_storage.v1.aes-hmac-sha2``) with the recovery key.

Then the device's keys as the server has them are signed with the self-signing key and uploaded.
Primitives come from ``cryptography`` (Ed25519, HKDF, AES-CTR, HMAC), canonical JSON from
``canonicaljson`` and base58 from ``base58``: nothing hand-made. No key material is logged.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import base58
from canonicaljson import encode_canonical_json
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from bot.errors import Failure, Transient

log = logging.getLogger(__name__)
KEYS_FILE = "cross-signing.json"
SSSS_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
RECOVERY_PREFIX = bytes([0x8B, 0x01])
HTTP_TIMEOUT_S = 30


class CrossSignError(Failure):
    """Cross-signing cannot be done as configured; the message says how to fix it."""


class CrossSignUnavailable(Transient):
    """The homeserver could not be reached: try again later."""


class Outcome(Enum):
    BOOTSTRAPPED = "cross-signed (new cross-signing keys made and uploaded)"
    SIGNED = "cross-signed"
    ALREADY = "cross-signed (already)"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Session:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


# --- keys and signatures ---------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Matrix's unpadded base64."""
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key as Matrix names it: the public key in unpadded base64 is also its key id."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public(self) -> str:
        return b64(self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def seed(self) -> str:
        return b64(self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    def sign(self, obj: dict[str, Any], user_id: str) -> dict[str, Any]:
        """The object with this key's signature added (over its canonical JSON minus signatures/unsigned)."""
        unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        signature = b64(self.private.sign(encode_canonical_json(unsigned)))
        signed = dict(obj)
        signatures = {u: dict(s) for u, s in (obj.get("signatures") or {}).items()}
        signatures.setdefault(user_id, {})[self.key_id] = signature
        signed["signatures"] = signatures
        return signed


def key_object(user_id: str, usage: str, key: SigningKey) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public}}


def published_key(query: dict[str, Any], kind: str, user_id: str) -> str | None:
    """The public key of the account's published master/self-signing key, from a /keys/query answer."""
    obj = (query.get(kind) or {}).get(user_id)
    keys = list((obj or {}).get("keys", {}).values())
    return str(keys[0]) if keys else None


# --- secret storage ----------------------------------------------------------------------------------


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte secret-storage key from Element's recovery key (base58, 0x8B 0x01 prefix, parity byte)."""
    try:
        raw = base58.b58decode("".join(text.split()))
    except ValueError as exc:
        raise CrossSignError("the recovery key is not valid base58 (check matrix.recovery_key_env)") from exc
    parity = 0
    for byte in raw:
        parity ^= byte
    if len(raw) != 35 or raw[:2] != RECOVERY_PREFIX or parity != 0:
        raise CrossSignError("the recovery key is malformed (wrong length, prefix or parity); copy it again")
    return raw[2:34]


def encode_recovery_key(key: bytes) -> str:
    """The inverse, for tests and for showing a key: groups of four characters, as Element shows it."""
    raw = RECOVERY_PREFIX + key
    parity = 0
    for byte in raw:
        parity ^= byte
    text = base58.b58encode(raw + bytes([parity])).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _ssss_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=bytes(32), info=name.encode()).derive(key)
    return derived[:32], derived[32:]


def _hmac(key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def ssss_encrypt(key: bytes, name: str, plaintext: str, iv: bytes) -> dict[str, str]:
    aes_key, mac_key = _ssss_keys(key, name)
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(plaintext.encode()) + encryptor.finalize()
    return {"iv": b64(iv), "ciphertext": b64(ciphertext), "mac": b64(_hmac(mac_key, ciphertext))}


def ssss_decrypt(key: bytes, name: str, encrypted: dict[str, Any]) -> str:
    """A secret from secret storage: HMAC checked first, then AES-256-CTR (the spec's aes-hmac-sha2)."""
    aes_key, mac_key = _ssss_keys(key, name)
    ciphertext = unb64(str(encrypted["ciphertext"]))
    if not hmac.compare_digest(_hmac(mac_key, ciphertext), unb64(str(encrypted["mac"]))):
        raise CrossSignError(f"secret storage: {name} does not decrypt with this recovery key (MAC mismatch)")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(unb64(str(encrypted["iv"])))).decryptor()
    return (decryptor.update(ciphertext) + decryptor.finalize()).decode()


def check_ssss_key(key: bytes, description: dict[str, Any]) -> None:
    """The key description's iv/mac encrypt 32 zero bytes under the name "": a wrong key is told plainly."""
    if description.get("algorithm") != SSSS_ALGORITHM:
        raise CrossSignError(f"secret storage uses {description.get('algorithm')!r}, not {SSSS_ALGORITHM}")
    if "iv" in description and "mac" in description:
        expected = ssss_encrypt(key, "", "\0" * 32, unb64(str(description["iv"])))["mac"]
        if not hmac.compare_digest(expected, str(description["mac"]).rstrip("=")):
            raise CrossSignError("the recovery key does not open this account's secret storage")


# --- the client-server API ------------------------------------------------------------------------


class Api:
    """The handful of endpoints cross-signing needs, with the bot's access token."""

    def __init__(self, session: Session, http: aiohttp.ClientSession) -> None:
        self.s = session
        self.http = http
        self.base = session.homeserver.rstrip("/") + "/_matrix/client/v3"

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.s.access_token}"}
        try:
            async with self.http.request(method, self.base + path, json=body, headers=headers) as resp:
                data = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CrossSignUnavailable(f"{method} {path}: {exc}") from exc
        if status >= 500:
            raise CrossSignUnavailable(f"{method} {path}: HTTP {status}")
        return status, data if isinstance(data, dict) else {}

    async def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, data = await self.call(method, path, body)
        if status != 200:
            raise CrossSignError(f"{method} {path} refused: {data.get('errcode')} {data.get('error')}")
        return data

    async def own_keys(self) -> dict[str, Any]:
        return await self.ok("POST", "/keys/query", {"device_keys": {self.s.user_id: []}})

    async def account_data(self, kind: str) -> dict[str, Any] | None:
        status, data = await self.call("GET", f"/user/{quote(self.s.user_id)}/account_data/{quote(kind)}")
        if status == 404:
            return None
        if status != 200:
            raise CrossSignError(f"reading account data {kind} refused: {data.get('errcode')} {data.get('error')}")
        return data

    async def upload_signing_keys(self, body: dict[str, Any], password: str) -> None:
        """Upload with user-interactive auth: the first try gets a session, the second answers with the password."""
        status, data = await self.call("POST", "/keys/device_signing/upload", body)
        if status == 200:
            return
        if status != 401 or "session" not in data:
            raise CrossSignError(f"uploading cross-signing keys refused: {data.get('errcode')} {data.get('error')}")
        flows = [f.get("stages", []) for f in data.get("flows", [])]
        if not any(stages == ["m.login.password"] for stages in flows):
            raise CrossSignError(f"the homeserver does not offer password auth for this upload (flows: {flows})")
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.s.user_id},
            "password": password,
            "session": data["session"],
        }
        status, data = await self.call("POST", "/keys/device_signing/upload", {**body, "auth": auth})
        if status != 200:
            raise CrossSignError(f"uploading cross-signing keys refused: {data.get('errcode')} {data.get('error')}")

    async def upload_signature(self, signed_device: dict[str, Any]) -> None:
        body = {self.s.user_id: {self.s.device_id: signed_device}}
        data = await self.ok("POST", "/keys/signatures/upload", body)
        failures = data.get("failures") or {}
        if failures:
            raise CrossSignError(f"the homeserver refused the device signature: {json.dumps(failures)[:300]}")


# --- private keys in data_dir ----------------------------------------------------------------------


def load_keys(data_dir: Path, user_id: str) -> dict[str, SigningKey]:
    try:
        data = json.loads((data_dir / KEYS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("user_id") != user_id:
        return {}
    return {k: SigningKey.from_seed(unb64(str(v))) for k, v in (data.get("keys") or {}).items()}


def save_keys(data_dir: Path, user_id: str, keys: dict[str, SigningKey]) -> None:
    """Written 0600 from the start (never world-readable, not even briefly), then renamed into place."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path, tmp = data_dir / KEYS_FILE, data_dir / f"{KEYS_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"user_id": user_id, "keys": {k: v.seed() for k, v in keys.items()}}, handle)
    tmp.replace(path)


# --- the whole job ------------------------------------------------------------------------------------


async def ensure_cross_signed(
    session: Session, data_dir: Path, password: str | None, recovery_key: str | None
) -> Outcome:
    """Make sure the bot's device carries its account's self-signing signature; say how, or why not."""
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        api = Api(session, http)
        query = await api.own_keys()
        master_pub = published_key(query, "master_keys", session.user_id)
        outcome = Outcome.SIGNED
        if master_pub is None:
            if not password:
                raise CrossSignError(
                    "the account has no cross-signing keys; set matrix.password_env so the bot can make them, "
                    "or make them in Element and give the bot the recovery key (matrix.recovery_key_env)"
                )
            ssk = await _bootstrap(api, data_dir, password)
            query = await api.own_keys()
            outcome = Outcome.BOOTSTRAPPED
        else:
            ssk = await _self_signing_key(api, query, data_dir, recovery_key)
        device = ((query.get("device_keys") or {}).get(session.user_id) or {}).get(session.device_id)
        if device is None:
            raise CrossSignError(f"the homeserver has no keys for device {session.device_id} yet")
        if ssk.key_id in ((device.get("signatures") or {}).get(session.user_id) or {}):
            return Outcome.ALREADY if outcome is Outcome.SIGNED else outcome
        await api.upload_signature(ssk.sign(device, session.user_id))
        return outcome


async def _bootstrap(api: Api, data_dir: Path, password: str) -> SigningKey:
    user_id = api.s.user_id
    keys = {
        "master": SigningKey.generate(),
        "self_signing": SigningKey.generate(),
        "user_signing": SigningKey.generate(),
    }
    master = keys["master"]
    body = {
        "master_key": key_object(user_id, "master", master),
        "self_signing_key": master.sign(key_object(user_id, "self_signing", keys["self_signing"]), user_id),
        "user_signing_key": master.sign(key_object(user_id, "user_signing", keys["user_signing"]), user_id),
    }
    save_keys(data_dir, user_id, keys)  # before the upload: a crash after it must not lose the keys
    await api.upload_signing_keys(body, password)
    log.info("made and uploaded cross-signing keys for %s (private keys in %s)", user_id, data_dir / KEYS_FILE)
    return keys["self_signing"]


async def _self_signing_key(api: Api, query: dict[str, Any], data_dir: Path, recovery_key: str | None) -> SigningKey:
    """The private half of the published self-signing key: kept from before, or read from secret storage."""
    user_id = api.s.user_id
    published = published_key(query, "self_signing_keys", user_id)
    if published is None:
        raise CrossSignError("the account has a master key but no self-signing key; reset cross-signing in Element")
    kept = load_keys(data_dir, user_id)
    if "self_signing" in kept and kept["self_signing"].public == published:
        return kept["self_signing"]
    if not recovery_key:
        raise CrossSignError(
            "the account's cross-signing keys were made elsewhere (e.g. in Element) and the bot does not hold "
            "them; put the account's recovery key (Element: Settings → Security & Privacy → Secure Backup) into "
            "the environment variable named by matrix.recovery_key_env"
        )
    ssss_key = decode_recovery_key(recovery_key)
    default = await api.account_data("m.secret_storage.default_key")
    key_id = str((default or {}).get("key") or "")
    if not key_id:
        raise CrossSignError("the account has no secret storage (m.secret_storage.default_key); set it up in Element")
    description = await api.account_data(f"m.secret_storage.key.{key_id}")
    if description is None:
        raise CrossSignError(f"secret storage key {key_id} has no description on the account")
    check_ssss_key(ssss_key, description)
    stored = await api.account_data("m.cross_signing.self_signing")
    encrypted = ((stored or {}).get("encrypted") or {}).get(key_id)
    if not isinstance(encrypted, dict):
        raise CrossSignError("the self-signing key is not in secret storage under its default key")
    ssk = SigningKey.from_seed(unb64(ssss_decrypt(ssss_key, "m.cross_signing.self_signing", encrypted)))
    if ssk.public != published:
        raise CrossSignError("the self-signing key in secret storage is not the published one; reset it in Element")
    save_keys(data_dir, user_id, {**kept, "self_signing": ssk})
    log.info("read the self-signing key of %s from secret storage", user_id)
    return ssk


async def cross_signing_status(session: Session) -> tuple[bool, str]:
    """For `doctor`: is the device signed by the account's published self-signing key? Else how to fix it."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)) as http:
        query = await Api(session, http).own_keys()
    ssk = published_key(query, "self_signing_keys", session.user_id)
    device = ((query.get("device_keys") or {}).get(session.user_id) or {}).get(session.device_id)
    if device is None:
        return False, f"device {session.device_id} has published no E2EE keys yet: start the bot once"
    if ssk is None:
        return False, "the account has no cross-signing keys: set matrix.password_env (the bot makes them) and restart"
    if f"ed25519:{ssk}" in ((device.get("signatures") or {}).get(session.user_id) or {}):
        return True, f"device {session.device_id} is cross-signed"
    return False, (
        f"device {session.device_id} is not cross-signed: set matrix.recovery_key_env to the account's recovery key "
        "and restart"
    )
