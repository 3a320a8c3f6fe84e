// An operator with Element's own crypto stack (matrix-js-sdk + its Rust crypto), driven from pytest.
//
// One JSON request per stdin line, one JSON answer per stdout line ({id, ok, result | error}).
// Every wait is for a condition with a deadline given by the caller; nothing sleeps in place of
// synchronisation. The Rust crypto logs a lot on stderr: pytest sends that to a file.
// This file lives next to its node_modules (an ES module resolves its imports from there).
import "fake-indexeddb/auto";
import * as readline from "node:readline";
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel("error");
// The Rust crypto logs through console.*: keep stdout for the protocol, send the logs to stderr.
for (const level of ["log", "debug", "info", "warn", "error", "trace"]) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}
const MARK = "@@ccci ";

const clients = new Map(); // name → {client, events: Map<event id, MatrixEvent>}

function out(obj) {
  process.stdout.write(MARK + JSON.stringify(obj) + "\n");
}

async function until(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // poll local state, not the server
  }
}

async function login({ name, baseUrl, user, password }) {
  const bare = sdk.createClient({ baseUrl });
  const creds = await bare.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user },
    password,
    initial_device_display_name: `js-operator-${name}`,
  });
  const secrets = { key: null }; // the secret-storage key this client made (bootstrap_cross_signing)
  const client = sdk.createClient({
    baseUrl,
    userId: creds.user_id,
    accessToken: creds.access_token,
    deviceId: creds.device_id,
    cryptoCallbacks: {
      getSecretStorageKey: async ({ keys }) => {
        const id = Object.keys(keys)[0];
        return secrets.key && id ? [id, secrets.key] : null;
      },
    },
  });
  await client.initRustCrypto({ useIndexedDB: false });
  const entry = { client, events: new Map(), password, secrets };
  client.on(sdk.RoomEvent.Timeline, (ev) => entry.events.set(ev.getId(), ev));
  const prepared = new Promise((resolve) =>
    client.on(sdk.ClientEvent.Sync, (state) => state === "PREPARED" && resolve()),
  );
  await client.startClient({ initialSyncLimit: 0 });
  await prepared;
  clients.set(name, entry);
  return { user_id: creds.user_id, device_id: creds.device_id };
}

function describe(ev) {
  const content = ev.getContent() || {};
  const relates = ev.getWireContent()["m.relates_to"] || content["m.relates_to"] || {};
  return {
    event_id: ev.getId(),
    room_id: ev.getRoomId(),
    sender: ev.getSender(),
    type: ev.getType(),
    wire_type: ev.getWireType(),
    encrypted: ev.isEncrypted(),
    decryption_failure: ev.isDecryptionFailure(),
    body: content.body ?? null,
    new_body: (content["m.new_content"] || {}).body ?? null,
    msgtype: content.msgtype ?? null,
    formatted_body: content.formatted_body ?? null,
    reply_to: (relates["m.in_reply_to"] || {}).event_id ?? null,
    rel_type: relates.rel_type ?? null,
    relates_to: relates.event_id ?? null,
  };
}

function matches(d, m) {
  if (m.room_id && d.room_id !== m.room_id) return false;
  if (m.sender && d.sender !== m.sender) return false;
  if (m.type && d.type !== m.type) return false;
  if (m.reply_to && d.reply_to !== m.reply_to) return false;
  if (m.thread_root && !(d.rel_type === "m.thread" && d.relates_to === m.thread_root)) return false;
  if (m.body_prefix && !(typeof d.body === "string" && d.body.startsWith(m.body_prefix))) return false;
  if (m.not_edit && d.rel_type === "m.replace") return false;
  if (m.rel_type && d.rel_type !== m.rel_type) return false;
  if (m.relates_to && d.relates_to !== m.relates_to) return false;
  return true;
}

const handlers = {
  login,

  async create_room({ name, invite, encrypted, alias }) {
    const { client } = clients.get(name);
    const initial_state = encrypted
      ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }]
      : [];
    const options = { invite, initial_state, ...(alias ? { room_alias_name: alias, name: alias } : {}) };
    const { room_id } = await client.createRoom(options);
    return { room_id };
  },

  async join({ name, room_id }) {
    const { client } = clients.get(name);
    await client.joinRoom(room_id);
    return {};
  },

  async wait_member({ name, room_id, user_id, timeout_ms }) {
    const { client } = clients.get(name);
    await until(`${user_id} to join ${room_id}`, timeout_ms, () => {
      const room = client.getRoom(room_id);
      return room && room.getMember(user_id)?.membership === "join";
    });
    return {};
  },

  async send({ name, room_id, body, thread_root }) {
    const { client } = clients.get(name);
    const content = { msgtype: "m.text", body };
    if (thread_root) content["m.relates_to"] = { rel_type: "m.thread", event_id: thread_root };
    const { event_id } = await client.sendEvent(room_id, thread_root ?? null, "m.room.message", content);
    return { event_id };
  },

  // A reaction as Element sends it: matrix-js-sdk sends m.reaction in the clear even in an encrypted room
  // (the relation is in the clear anyway; see its client's encryptEventIfNeeded).
  async react({ name, room_id, event_id, key }) {
    const { client } = clients.get(name);
    const content = { "m.relates_to": { rel_type: "m.annotation", event_id, key } };
    const sent = await client.sendEvent(room_id, "m.reaction", content);
    return { event_id: sent.event_id };
  },

  // Events matching `match`, once `count` of them have arrived and decrypted (or failed to, for good).
  async wait({ name, match, count = 1, timeout_ms }) {
    const { client, events } = clients.get(name);
    const found = await until(`${count} event(s) matching ${JSON.stringify(match)}`, timeout_ms, async () => {
      const hits = [];
      for (const ev of events.values()) {
        if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) await client.decryptEventIfNeeded(ev);
        const d = describe(ev);
        if (matches(d, match)) hits.push(d);
      }
      return hits.length >= count ? hits : null;
    });
    return { events: found };
  },

  async devices({ name, user_id }) {
    const { client } = clients.get(name);
    const map = await client.getCrypto().getUserDeviceInfo([user_id], true);
    return { devices: [...(map.get(user_id) || new Map()).keys()] };
  },

  // Until the device's verification status says `signedByOwner` (the account's self-signing key signed it).
  async wait_signed({ name, user_id, device_id, timeout_ms }) {
    const { client } = clients.get(name);
    const crypto = client.getCrypto();
    const status = await until(`${user_id} ${device_id} to be signed by its owner`, timeout_ms, async () => {
      await crypto.getUserDeviceInfo([user_id], true);
      const s = await crypto.getDeviceVerificationStatus(user_id, device_id);
      return s && s.signedByOwner ? s : null;
    });
    return { signedByOwner: status.signedByOwner, crossSigningVerified: status.crossSigningVerified };
  },

  async signed_now({ name, user_id, device_id }) {
    const crypto = clients.get(name).client.getCrypto();
    await crypto.getUserDeviceInfo([user_id], true);
    const s = await crypto.getDeviceVerificationStatus(user_id, device_id);
    return { signedByOwner: Boolean(s && s.signedByOwner) };
  },

  // Cross-signing keys and secret storage made by this client, as Element does on first login; returns
  // the recovery key a person would write down.
  async bootstrap_cross_signing({ name }) {
    const { client, password, secrets } = clients.get(name);
    const crypto = client.getCrypto();
    const recovery = await crypto.createRecoveryKeyFromPassphrase();
    secrets.key = recovery.privateKey;
    await crypto.bootstrapCrossSigning({
      setupNewCrossSigning: true,
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({
          type: "m.login.password",
          identifier: { type: "m.id.user", user: client.getUserId() },
          password,
        });
      },
    });
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => recovery,
      setupNewSecretStorage: true,
    });
    const status = await crypto.getCrossSigningStatus();
    return { recovery_key: recovery.encodedPrivateKey, status };
  },

  async logout({ name }) {
    const { client } = clients.get(name);
    client.stopClient();
    await client.logout(true);
    clients.delete(name);
    return {};
  },

  async stop({ name }) {
    const { client } = clients.get(name);
    client.stopClient();
    clients.delete(name);
    return {};
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    out({ id: null, ok: false, error: `bad request: ${err}` });
    return;
  }
  try {
    const result = await handlers[request.op](request.args || {});
    out({ id: request.id, ok: true, result });
  } catch (err) {
    out({ id: request.id, ok: false, error: String(err && err.stack ? err.stack : err) });
  }
});
rl.on("close", () => {
  for (const { client } of clients.values()) client.stopClient();
  process.exit(0);
});
out({ id: 0, ok: true, result: { ready: true } });
