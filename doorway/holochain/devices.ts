import {
  type DeviceWire,
  deviceCertificateText,
  MAX_DEVICE_NAME,
  MAX_DEVICES,
} from '../../src/wire/index.ts';
import { verifyEd25519 } from './ed25519.ts';
import { ed25519OfAgent, hashToB64, sameBytes } from './hash.ts';
import { agentKey, checkLength, checkPattern, integer, record, text } from './validation.ts';
import { ValidationError, ZomeError } from './wire.ts';
import { commit, fromRow, type RowOf, type ZomeContext, type ZomeFn } from './zome-context.ts';

/**
 * The `imagodei` zome's devices (docs/design.md §2): a person's agent key certifies the keys of
 * its other devices, each its own agent and PeerId. A certificate carries two Ed25519
 * signatures over the same `deviceCertificateText`: the agent key's ("this device is mine") and
 * the device key's ("I am"), so a peer believes it without trusting the doorway that carried it;
 * the zome checks both too, and who may certify and remove what. A device belongs to the agent
 * that certified it with the device's agreement, for good: nobody can claim a device key it
 * merely knows (squatting), and once removed, a device is never certified again.
 */

/** A 64-byte Ed25519 signature, base64url without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;
/** How far `added_at` may be from the emulator's clock, either way (ms). */
const ADDED_AT_SKEW_MS = 10 * 60 * 1000;
/** At most this many certificates in one `get_agent_devices` answer. */
const MAX_LISTED = 64;

type DeviceRow = RowOf<DeviceWire>;

function deviceRow(ctx: ZomeContext, device: Uint8Array): DeviceRow | undefined {
  return ctx.store.stmt('SELECT * FROM devices WHERE device = ?').get(device) as
    | DeviceRow
    | undefined;
}

/**
 * Whether `signature` (base64url, canonical only: one signature has one text form) is the
 * Ed25519 signature of `agent`'s key over `message`.
 */
function signedBy(signature: string, message: Uint8Array, agent: Uint8Array): boolean {
  const bytes = new Uint8Array(Buffer.from(signature, 'base64url'));
  return (
    Buffer.from(bytes).toString('base64url') === signature &&
    verifyEd25519(bytes, message, ed25519OfAgent(agent))
  );
}

/**
 * The caller certifies `device` as one of its devices: `signature` is the caller's agent key's
 * over `deviceCertificateText(caller, device, name, added_at)`, `device_signature` the device
 * key's over the same text (the device agrees to be the caller's). Refused when another agent
 * certified that device (removed or not), when the caller removed it before, and past
 * MAX_DEVICES devices not removed. Certifying a device of the caller's again (re-pairing)
 * replaces its name, time and both signatures. `DeviceCommitted` goes to the agent's own
 * sockets (its other devices); other peers ask get_device_agent.
 */
export const addDevice: ZomeFn<'add_device'> = (ctx, payload) => {
  const fn = 'add_device';
  const input = record(fn, payload);
  const agent = ctx.cell[1];
  const device = agentKey(fn, input.device, 'device');
  const name = text(fn, input, 'name');
  const addedAt = integer(fn, input, 'added_at');
  const signature = text(fn, input, 'signature');
  const deviceSignature = text(fn, input, 'device_signature');
  // Lengths before anything else reads the strings: a huge name goes no further.
  checkLength('name', name, 1, MAX_DEVICE_NAME);
  for (const [field, value] of [
    ['signature', signature],
    ['device_signature', deviceSignature],
  ] as const) {
    checkPattern(
      field,
      value,
      SIGNATURE,
      '86 base64url characters without padding (a 64-byte Ed25519 signature)',
    );
  }
  if (name.trim().length === 0) {
    throw new ValidationError('name must not be blank: name the device, e.g. "Phone"');
  }
  if (sameBytes(device, agent)) {
    throw new ValidationError(
      'device is your own agent key: certify the key of your other device (its PeerId)',
    );
  }
  const now = Date.now();
  if (addedAt < 0 || Math.abs(addedAt - now) > ADDED_AT_SKEW_MS) {
    throw new ValidationError(
      `added_at must be within 10 minutes of now (${now} ms since the Unix epoch), got ${addedAt}: check the clock of the device that signed`,
    );
  }
  const agentText = hashToB64(agent);
  const deviceText = hashToB64(device);
  const message = new TextEncoder().encode(
    deviceCertificateText(agentText, deviceText, name, addedAt),
  );
  if (!signedBy(signature, message, agent)) {
    throw new ValidationError(
      `signature is not signed by your agent key: sign deviceCertificateText(${agentText}, ${deviceText}, name, added_at) with the agent key that makes this call`,
    );
  }
  // Without the device's own agreement anyone could claim a device key it merely knows.
  if (!signedBy(deviceSignature, message, device)) {
    throw new ValidationError(
      `device_signature is not signed by the device's key: the device itself signs deviceCertificateText(${agentText}, ${deviceText}, name, added_at) to agree to be yours`,
    );
  }

  const existing = deviceRow(ctx, device);
  if (existing && !sameBytes(existing.agent, agent)) {
    throw new ValidationError(
      `device ${deviceText} is certified by another agent: a device belongs to one person; pair a device that has not been paired with anyone`,
    );
  }
  if (existing?.removed_at != null) {
    throw new ValidationError(
      `device ${deviceText} was removed: a removed device is never certified again: clear that browser's data so it makes a new key, then pair it again`,
    );
  }
  if (!existing) {
    const { n } = ctx.store
      .stmt('SELECT COUNT(*) AS n FROM devices WHERE agent = ? AND removed_at IS NULL')
      .get(agent) as { n: number };
    if (n >= MAX_DEVICES) {
      throw new ValidationError(
        `you have ${n} devices, the most there may be (${MAX_DEVICES}): remove one with remove_device first`,
      );
    }
  }

  const entry = {
    agent,
    device,
    name,
    added_at: addedAt,
    signature,
    device_signature: deviceSignature,
  };
  const committed = commit(ctx, 'DeviceCertificate', entry, agent);
  const certificate: DeviceWire = { ...entry, removed_at: null, action_hash: committed.actionHash };
  ctx.store
    .stmt(
      `INSERT INTO devices
         (device, agent, name, added_at, signature, device_signature, removed_at, action_hash)
       VALUES (@device, @agent, @name, @added_at, @signature, @device_signature, @removed_at,
         @action_hash)
       ON CONFLICT (device) DO UPDATE SET name = excluded.name, added_at = excluded.added_at,
         signature = excluded.signature, device_signature = excluded.device_signature,
         action_hash = excluded.action_hash`,
    )
    .run(certificate);
  deviceSignal(ctx, committed, certificate);
  return { action_hash: committed.actionHash, device: certificate };
};

/** Tells the agent's sockets, its devices among them, that one of its devices changed. */
function deviceSignal(
  ctx: ZomeContext,
  committed: { actionHash: Uint8Array; entryHash: Uint8Array },
  device: DeviceWire,
): void {
  ctx.emitSignal({
    type: 'DeviceCommitted',
    payload: {
      action_hash: committed.actionHash,
      entry_hash: committed.entryHash,
      device,
      author: device.agent,
    },
  });
}

/**
 * The caller removes one of its devices: `removed_at` is the removal's time (µs, the action's),
 * and the device is never certified again. Only the agent that certified it may; removing it
 * again changes nothing and answers the removal. `DeviceCommitted` tells its other devices.
 */
export const removeDevice: ZomeFn<'remove_device'> = (ctx, payload) => {
  const fn = 'remove_device';
  const agent = ctx.cell[1];
  const device = agentKey(fn, payload, 'input');
  const row = deviceRow(ctx, device);
  if (!row) {
    throw new ZomeError(
      `DeviceCertificate not found: no agent certified ${hashToB64(device)} (add_device certifies a device)`,
    );
  }
  if (!sameBytes(row.agent, agent)) {
    throw new ValidationError(
      `device ${hashToB64(device)} is certified by another agent: only the agent that certified a device can remove it`,
    );
  }
  if (row.removed_at != null) {
    const removed = fromRow<DeviceWire>(row);
    return { action_hash: removed.action_hash, device: removed };
  }
  const committed = commit(ctx, 'DeviceRemoval', { agent, device }, agent);
  const removed: DeviceWire = {
    ...fromRow<DeviceWire>(row),
    removed_at: committed.timestamp,
    action_hash: committed.actionHash,
  };
  ctx.store
    .stmt(
      'UPDATE devices SET removed_at = @removed_at, action_hash = @action_hash WHERE device = @device',
    )
    .run(removed);
  deviceSignal(ctx, committed, removed);
  return { action_hash: committed.actionHash, device: removed };
};

/**
 * Every certificate `agent` made, removed ones included, newest `added_at` first: anyone may
 * ask (every peer's delivery gate does). At most 64: the devices not removed (MAX_DEVICES at
 * most) always, then the newest removed ones.
 */
export const getAgentDevices: ZomeFn<'get_agent_devices'> = (ctx, payload) => {
  const agent = agentKey('get_agent_devices', payload, 'input');
  const rows = ctx.store
    .stmt(
      `SELECT * FROM devices WHERE agent = @agent
       ORDER BY removed_at IS NOT NULL, added_at DESC, rowid DESC LIMIT @limit`,
    )
    .all({ agent, limit: MAX_LISTED }) as DeviceRow[];
  return rows.map((row) => fromRow<DeviceWire>(row)).sort((a, b) => b.added_at - a.added_at);
};

/** The certificate naming `device`, removed or not, or nil: anyone may ask. */
export const getDeviceAgent: ZomeFn<'get_device_agent'> = (ctx, payload) => {
  const row = deviceRow(ctx, agentKey('get_device_agent', payload, 'input'));
  return row ? fromRow<DeviceWire>(row) : null;
};
