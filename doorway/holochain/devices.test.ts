/** Device certificates through the real AppWebsocket: who certifies, removes and reads which device. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { encodeHashToBase64 } from '@holochain/client';
import { describe, expect, it } from 'vitest';
import {
  type AddDeviceInput,
  type DeviceWire,
  deviceCertificateText,
  MAX_DEVICE_NAME,
  MAX_DEVICES,
} from '../../src/wire/index.ts';
import { sharedTempDir } from '../test-support.ts';
import { addDevice, getAgentDevices, getDeviceAgent, removeDevice } from './devices.ts';
import { privateKeyFromSeed, signEd25519, verifyEd25519 } from './ed25519.ts';
import { ed25519OfAgent, hashToB64 } from './hash.ts';
import { createRelationship } from './imagodei.ts';
import { getMyRecoveryShares, setRecoveryGuardians } from './recovery.ts';
import { DNA_HASHES, EmulatorStore } from './store.ts';
import {
  type connectAgent,
  newKey,
  refusal,
  sharedTrustServer,
  suiteAgents,
  type TestKey,
  zomeContext,
} from './test-support.ts';

type Agent = Awaited<ReturnType<typeof connectAgent>>;
type Added = { action_hash: Uint8Array; device: DeviceWire };

const MINUTE = 60 * 1000;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const utf8 = (text: string) => new TextEncoder().encode(text);

/** `key`'s Ed25519 signature over the UTF-8 of `text`, base64url without padding. */
const sign = (key: TestKey, text: string) =>
  Buffer.from(signEd25519(privateKeyFromSeed(key.seed), utf8(text))).toString('base64url');

/**
 * An `add_device` payload as the page makes it: `signer` (the agent's own key unless a test
 * forges) and `deviceSigner` (the device's own key unless a test forges) sign the certificate
 * text of `agent` and `device`, both in `uhCAk…` text, over `signedName` and
 * `deviceSignedName` (the payload's name unless a test forges).
 */
function certificate(
  agent: TestKey,
  device: TestKey,
  options: {
    name?: string;
    addedAt?: number;
    signer?: TestKey;
    deviceSigner?: TestKey;
    signedName?: string;
    deviceSignedName?: string;
  } = {},
): AddDeviceInput {
  const { name = 'Phone', addedAt = Date.now(), signer = agent, deviceSigner = device } = options;
  const textOf = (signedName: string) =>
    deviceCertificateText(
      encodeHashToBase64(agent.agent),
      encodeHashToBase64(device.agent),
      signedName,
      addedAt,
    );
  return {
    device: device.agent,
    name,
    added_at: addedAt,
    signature: sign(signer, textOf(options.signedName ?? name)),
    device_signature: sign(deviceSigner, textOf(options.deviceSignedName ?? name)),
  };
}

/**
 * Whether a certificate's signatures are its agent's and its device's over its fields, as a
 * peer checks them.
 */
function verifies(cert: DeviceWire): boolean {
  const text = utf8(
    deviceCertificateText(
      encodeHashToBase64(cert.agent),
      encodeHashToBase64(cert.device),
      cert.name,
      cert.added_at,
    ),
  );
  const signed = (signature: string, by: Uint8Array) =>
    verifyEd25519(new Uint8Array(Buffer.from(signature, 'base64url')), text, ed25519OfAgent(by));
  return signed(cert.signature, cert.agent) && signed(cert.device_signature, cert.device);
}

describe('device certificates', () => {
  const server = sharedTrustServer('hc-devices-');
  const agent = suiteAgents(server);

  const add = (a: Agent, payload: unknown) => a.call<Added>('imagodei', 'add_device', payload);
  const remove = (a: Agent, device: Uint8Array) =>
    a.call<Added>('imagodei', 'remove_device', device);
  const devicesOf = (asker: Agent, of: Uint8Array) =>
    asker.call<DeviceWire[]>('imagodei', 'get_agent_devices', of);
  const agentOf = (asker: Agent, device: Uint8Array) =>
    asker.call<DeviceWire | null>('imagodei', 'get_device_agent', device);

  it('certifies a device: anyone reads the certificate, whose signature verifies; pairing again replaces it', async () => {
    const [owner, stranger] = await Promise.all([agent(), agent()]);
    const phoneKey = newKey();
    const phone = phoneKey.agent;
    const payload = certificate(owner.key, phoneKey, { name: 'Phone' });
    // The client signs the text form @holochain/client makes; the emulator's is the same.
    expect(hashToB64(owner.agent)).toBe(encodeHashToBase64(owner.agent));

    const out = await add(owner, payload);
    expect(out.action_hash).toHaveLength(39);
    expect(out.device).toMatchObject({
      name: 'Phone',
      added_at: payload.added_at,
      signature: payload.signature,
      device_signature: payload.device_signature,
      removed_at: null,
    });
    expect(verifies(out.device)).toBe(true);
    expect(hex(out.device.agent)).toBe(hex(owner.agent));
    expect(hex(out.device.device)).toBe(hex(phone));
    expect(hex(out.device.action_hash)).toBe(hex(out.action_hash));

    for (const asker of [owner, stranger]) {
      const listed = await devicesOf(asker, owner.agent);
      expect(listed).toHaveLength(1);
      expect(listed[0]).toEqual(out.device);
      expect(verifies(listed[0] as DeviceWire)).toBe(true);
      const found = await agentOf(asker, phone);
      expect(found).toEqual(out.device);
      expect(hex(found?.agent as Uint8Array)).toBe(hex(owner.agent));
    }
    expect(await agentOf(stranger, newKey().agent)).toBeNull();
    expect(await devicesOf(owner, stranger.agent)).toEqual([]);
    // The owner's own sockets (its other devices) are told; other peers ask.
    await expect.poll(() => owner.received.length).toBe(1);
    expect(owner.received[0]?.payload).toMatchObject({
      type: 'DeviceCommitted',
      payload: { device: { name: 'Phone', removed_at: null } },
    });
    expect(stranger.received).toEqual([]);

    // Pairing the same device again replaces its name, time and both signatures.
    const again = certificate(owner.key, phoneKey, { name: 'Old phone', addedAt: Date.now() + 1 });
    const replaced = await add(owner, again);
    expect(replaced.device).toMatchObject({
      name: 'Old phone',
      signature: again.signature,
      device_signature: again.device_signature,
    });
    const listed = await devicesOf(stranger, owner.agent);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'Old phone', added_at: again.added_at });
    expect(verifies(listed[0] as DeviceWire)).toBe(true);

    // Newest added_at first.
    const laptop = newKey();
    await add(owner, certificate(owner.key, laptop, { addedAt: Date.now() - MINUTE }));
    const tablet = newKey();
    await add(owner, certificate(owner.key, tablet, { addedAt: Date.now() + MINUTE }));
    expect((await devicesOf(stranger, owner.agent)).map((d) => hex(d.device))).toEqual(
      [tablet.agent, phone, laptop.agent].map(hex),
    );
  });

  it('refuses certificates another key signed, over other fields, for the caller, or for a device another agent certified', async () => {
    const [owner, other] = await Promise.all([agent(), agent()]);
    const taken = newKey();
    await add(other, certificate(other.key, taken));
    const device = newKey();
    const notSigned =
      /signature is not signed by your agent key: sign deviceCertificateText\(uhCAk/;
    const deviceNotSigned =
      /device_signature is not signed by the device's key: the device itself signs deviceCertificateText\(uhCAk\S+, uhCAk\S+, name, added_at\) to agree to be yours/;
    const good = certificate(owner.key, device);
    const cases: [unknown, RegExp][] = [
      // Signed by the device's own key, or by another agent's.
      [certificate(owner.key, device, { signer: device }), notSigned],
      [certificate(owner.key, device, { signer: newKey() }), notSigned],
      [certificate(owner.key, device, { signer: other.key }), notSigned],
      // Another agent's valid certificate, sent by this one.
      [certificate(other.key, device), notSigned],
      // Over another name, or another time, than the payload's.
      [certificate(owner.key, device, { name: 'Phone', signedName: 'Laptop' }), notSigned],
      [{ ...good, added_at: Date.now() - 5 * MINUTE }, notSigned],
      // Over another device.
      [{ ...good, device: newKey().agent }, notSigned],
      // The device's signature made by the agent's key, a stranger's or another agent's.
      [certificate(owner.key, device, { deviceSigner: owner.key }), deviceNotSigned],
      [certificate(owner.key, device, { deviceSigner: newKey() }), deviceNotSigned],
      [certificate(owner.key, device, { deviceSigner: other.key }), deviceNotSigned],
      // The agent's signature twice.
      [{ ...good, device_signature: good.signature }, deviceNotSigned],
      // The device's signature over another name, or for another agent.
      [certificate(owner.key, device, { deviceSignedName: 'Laptop' }), deviceNotSigned],
      [
        { ...good, device_signature: certificate(other.key, device).device_signature },
        deviceNotSigned,
      ],
      [certificate(owner.key, owner.key), /device is your own agent key/],
      [
        certificate(owner.key, taken),
        /device uhCAk\S+ is certified by another agent: a device belongs to one person/,
      ],
    ];
    for (const [payload, message] of cases) {
      expect(await refusal(add(owner, payload)), message.source).toMatch(
        new RegExp(`Validation failed: ${message.source}`),
      );
    }
    expect(await devicesOf(owner, owner.agent)).toEqual([]);
    expect(await agentOf(owner, device.agent)).toBeNull();
    expect(hex((await agentOf(owner, taken.agent))?.agent as Uint8Array)).toBe(hex(other.agent));
    // Each refusal kept nothing: the good certificate goes through.
    expect(verifies((await add(owner, good)).device)).toBe(true);
  });

  it('an agent cannot certify a device that did not agree: knowing its public key is not enough', async () => {
    const [owner, squatter] = await Promise.all([agent(), agent()]);
    const phone = newKey();
    // The squatter knows the phone's key (its PeerId is public) and signs its own part, but the
    // phone's signature it can only forge: its own key's, random bytes, or the phone's
    // signature for the owner, seen on the way.
    const forOwner = certificate(owner.key, phone);
    const mine = certificate(squatter.key, phone, {
      addedAt: forOwner.added_at,
      deviceSigner: squatter.key,
    });
    const attempts = [
      mine,
      { ...mine, device_signature: randomBytes(64).toString('base64url') },
      { ...mine, device_signature: mine.signature },
      { ...mine, device_signature: forOwner.device_signature },
    ];
    for (const payload of attempts) {
      expect(await refusal(add(squatter, payload))).toMatch(
        /Validation failed: device_signature is not signed by the device's key/,
      );
    }
    expect(await agentOf(owner, phone.agent)).toBeNull();
    expect(await devicesOf(owner, squatter.agent)).toEqual([]);

    // The phone agreed to be the owner's: it is, and the squatter can neither take nor remove it.
    const added = await add(owner, forOwner);
    expect(hex(added.device.agent)).toBe(hex(owner.agent));
    expect(verifies(added.device)).toBe(true);
    expect(await refusal(add(squatter, certificate(squatter.key, phone)))).toMatch(
      /is certified by another agent/,
    );
    expect(await refusal(remove(squatter, phone.agent))).toMatch(/is certified by another agent/);
    expect(await agentOf(squatter, phone.agent)).toEqual(added.device);
  });

  it('refuses bad names, times and signatures, and malformed payloads', async () => {
    const owner = await agent();
    const deviceKey = newKey();
    const device = deviceKey.agent;
    const good = certificate(owner.key, deviceKey);
    const named = (name: string) => certificate(owner.key, deviceKey, { name });
    const signature = (s: string) => ({ ...good, signature: s });
    const deviceSignature = (s: string) => ({ ...good, device_signature: s });
    const bytes = Buffer.from(good.signature, 'base64url');
    const deviceBytes = Buffer.from(good.device_signature, 'base64url');
    // The same 64 bytes with the four unused bits of the last character set.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const looseOf = (s: string) =>
      s.slice(0, -1) + alphabet[alphabet.indexOf(s.at(-1) as string) | 15];
    const loose = looseOf(good.signature);
    expect(Buffer.from(loose, 'base64url').equals(bytes)).toBe(true);
    const deviceLoose = looseOf(good.device_signature);
    expect(Buffer.from(deviceLoose, 'base64url').equals(deviceBytes)).toBe(true);
    const deviceMalformed = /device_signature must be 86 base64url characters/;
    const cases: [unknown, RegExp][] = [
      [named(''), /name must be 1 to 64 characters, got 0/],
      [named('   '), /name must not be blank/],
      [named('x'.repeat(MAX_DEVICE_NAME + 1)), /name must be 1 to 64 characters, got 65/],
      [named('x'.repeat(100_000)), /name must be 1 to 64 characters, got 100000/],
      [
        certificate(owner.key, deviceKey, { addedAt: Date.now() - 11 * MINUTE }),
        /added_at must be within 10 minutes of now \(\d+ ms since the Unix epoch\)/,
      ],
      [
        certificate(owner.key, deviceKey, { addedAt: Date.now() + 11 * MINUTE }),
        /added_at must be within 10 minutes of now/,
      ],
      [certificate(owner.key, deviceKey, { addedAt: -1 }), /added_at must be within 10 minutes/],
      [signature(good.signature.slice(1)), /signature must be 86 base64url characters/],
      [signature(`${good.signature}==`), /signature must be 86 base64url characters/],
      [signature(bytes.toString('base64')), /signature must be 86 base64url characters/],
      [
        signature(randomBytes(64).toString('base64url')),
        /signature is not signed by your agent key/,
      ],
      [signature(loose), /signature is not signed by your agent key/],
      [deviceSignature(good.device_signature.slice(1)), deviceMalformed],
      [deviceSignature(`${good.device_signature}==`), deviceMalformed],
      [deviceSignature(deviceBytes.toString('base64')), deviceMalformed],
      [deviceSignature(''), deviceMalformed],
      [deviceSignature('x'.repeat(100_000)), deviceMalformed],
      [
        deviceSignature(randomBytes(64).toString('base64url')),
        /device_signature is not signed by the device's key/,
      ],
      [deviceSignature(deviceLoose), /device_signature is not signed by the device's key/],
      // A malformed device_signature is refused before the agent's signature is checked.
      [
        { ...good, signature: randomBytes(64).toString('base64url'), device_signature: '' },
        deviceMalformed,
      ],
    ];
    for (const [payload, message] of cases) {
      expect(await refusal(add(owner, payload)), message.source).toMatch(
        new RegExp(`Validation failed: ${message.source}`),
      );
    }
    const shapes: [unknown, RegExp][] = [
      [{ ...good, name: 42 }, /name must be a string/],
      [{ ...good, added_at: String(good.added_at) }, /added_at must be an integer/],
      [{ ...good, added_at: 1.5 }, /added_at must be an integer/],
      [{ ...good, signature: bytes }, /signature must be a string/],
      [{ ...good, device_signature: deviceBytes }, /device_signature must be a string/],
      [{ ...good, device_signature: undefined }, /device_signature must be a string/],
      [{ ...good, device: device.subarray(0, 38) }, /device must be a 39-byte AgentPubKey/],
      [{ ...good, device: hex(device) }, /device must be a 39-byte AgentPubKey/],
      // An entry hash is not an agent key.
      [
        { ...good, device: Uint8Array.of(0x84, 0x21, 0x24, ...device.subarray(3)) },
        /device must be a 39-byte AgentPubKey/,
      ],
      [[good], /expected a map of named fields/],
      [null, /expected a map of named fields/],
    ];
    for (const [payload, message] of shapes) {
      expect(await refusal(add(owner, payload)), message.source).toMatch(
        new RegExp(`Deserialize\\("add_device input: ${message.source}`),
      );
    }
    for (const fn of ['remove_device', 'get_agent_devices', 'get_device_agent']) {
      expect(await refusal(owner.call('imagodei', fn, device.subarray(0, 32)))).toMatch(
        new RegExp(`Deserialize\\("${fn} input: input must be a 39-byte AgentPubKey`),
      );
    }
    // Nothing refused was kept, and the good payload goes through.
    expect(await devicesOf(owner, owner.agent)).toEqual([]);
    expect((await add(owner, good)).device.name).toBe('Phone');
  });

  it(`certifies ${MAX_DEVICES} devices at once, not one more; a removed one does not count`, async () => {
    const owner = await agent();
    const devices = Array.from({ length: MAX_DEVICES + 1 }, () => newKey());
    for (const d of devices.slice(0, MAX_DEVICES)) await add(owner, certificate(owner.key, d));
    const extra = devices.at(-1) as TestKey;
    expect(await refusal(add(owner, certificate(owner.key, extra)))).toMatch(
      /Validation failed: you have 16 devices, the most there may be \(16\): remove one with remove_device first/,
    );
    // Pairing one of them again is no new device.
    await add(owner, certificate(owner.key, devices[0] as TestKey, { name: 'Renamed' }));
    await remove(owner, (devices[1] as TestKey).agent);
    await add(owner, certificate(owner.key, extra));
    const listed = await devicesOf(owner, owner.agent);
    expect(listed).toHaveLength(MAX_DEVICES + 1);
    expect(listed.filter((d) => d.removed_at == null)).toHaveLength(MAX_DEVICES);
    expect(await refusal(add(owner, certificate(owner.key, newKey())))).toMatch(
      /you have 16 devices/,
    );
  });

  it('removes a device: only its agent may, once for good, and it is never certified again', async () => {
    const [owner, other, stranger] = await Promise.all([agent(), agent(), agent()]);
    const phoneKey = newKey();
    const phone = phoneKey.agent;
    const added = await add(owner, certificate(owner.key, phoneKey));

    expect(await refusal(remove(other, phone))).toMatch(
      /Validation failed: device uhCAk\S+ is certified by another agent: only the agent that certified a device can remove it/,
    );
    expect(await refusal(remove(owner, newKey().agent))).toMatch(
      /DeviceCertificate not found: no agent certified uhCAk\S+ \(add_device certifies a device\)/,
    );
    expect((await agentOf(stranger, phone))?.removed_at).toBeNull();

    const before = Date.now() * 1000;
    const removed = await remove(owner, phone);
    expect(removed.device).toMatchObject({
      name: added.device.name,
      added_at: added.device.added_at,
      signature: added.device.signature,
      device_signature: added.device.device_signature,
    });
    expect(verifies(removed.device)).toBe(true);
    // The removal's time, in µs as every time the zome sets.
    expect(removed.device.removed_at).toBeGreaterThanOrEqual(before);
    expect(removed.device.removed_at).toBeLessThanOrEqual((Date.now() + 1000) * 1000);
    expect(hex(removed.action_hash)).not.toBe(hex(added.action_hash));
    expect(hex(removed.device.action_hash)).toBe(hex(removed.action_hash));

    // The owner's devices are told of the removal (after the certificate's own signal).
    await expect.poll(() => owner.received.length).toBe(2);
    expect(owner.received[1]?.payload).toMatchObject({
      type: 'DeviceCommitted',
      payload: { device: { removed_at: removed.device.removed_at } },
    });

    // Removing again changes nothing, and tells nobody.
    const twice = await remove(owner, phone);
    expect(twice).toEqual(removed);
    // (A signal is sent before the call's answer, on the same socket.)
    expect(owner.received).toHaveLength(2);
    // Still listed, as removed, to anyone.
    expect(await agentOf(stranger, phone)).toEqual(removed.device);
    expect(await devicesOf(stranger, owner.agent)).toEqual([removed.device]);

    expect(await refusal(add(owner, certificate(owner.key, phoneKey)))).toMatch(
      /Validation failed: device uhCAk\S+ was removed: a removed device is never certified again: clear that browser's data so it makes a new key, then pair it again/,
    );
    // Nor by anyone else: it was the owner's.
    expect(await refusal(add(other, certificate(other.key, phoneKey)))).toMatch(
      /is certified by another agent/,
    );
    expect(await devicesOf(other, other.agent)).toEqual([]);
    expect(await remove(owner, phone)).toEqual(removed);
  });
});

describe('device certificate storage', () => {
  const dir = sharedTempDir('hc-devices-store-');

  it('brings a version 5 database up to date, keeping its data, and certifies devices over it', () => {
    const file = join(dir(), 'v5');
    const owner = newKey();
    const [g1, g2] = [newKey().agent, newKey().agent];
    let store = EmulatorStore.open(file);
    store.installApp(owner.agent);
    for (const g of [g1, g2]) {
      createRelationship(zomeContext(store, [DNA_HASHES.imagodei, owner.agent]), {
        other_agent: g,
        relationship_type: 'friend',
      });
    }
    const setup = setRecoveryGuardians(zomeContext(store, [DNA_HASHES.imagodei, owner.agent]), {
      setup: randomBytes(16).toString('base64url'),
      threshold: 2,
      shares: [g1, g2].map((guardian) => ({
        guardian,
        iv: randomBytes(12).toString('base64url'),
        sealed: randomBytes(64).toString('base64url'),
      })),
    });
    // What a doorway of version 5 left: no device table.
    store.db.exec('DROP TABLE devices');
    store.db.pragma('user_version = 5');
    store.close();
    store = EmulatorStore.open(file);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(6);
      expect(store.appOfAgent(owner.agent)).toBeDefined();
      const kept = getMyRecoveryShares(zomeContext(store, [DNA_HASHES.imagodei, g1]), null);
      expect(kept.map((s) => s.setup)).toEqual([setup.shares[0]?.setup]);
      const indexes = (store.db.pragma('index_list(devices)') as { name: string }[]).map(
        (i) => i.name,
      );
      expect(indexes).toContain('devices_by_agent');

      const device = newKey();
      const ctx = zomeContext(store, [DNA_HASHES.imagodei, owner.agent]);
      const payload = certificate(owner, device);
      addDevice(ctx, payload);
      const listed = getAgentDevices(zomeContext(store, [DNA_HASHES.imagodei, g1]), owner.agent);
      expect(listed).toHaveLength(1);
      expect(listed[0]?.device_signature).toBe(payload.device_signature);
      expect(verifies(listed[0] as DeviceWire)).toBe(true);
      removeDevice(ctx, device.agent);
      const removed = getDeviceAgent(zomeContext(store, [DNA_HASHES.imagodei, g2]), device.agent);
      expect(removed?.removed_at).toBeGreaterThan(0);
      expect(removed?.device_signature).toBe(payload.device_signature);
    } finally {
      store.close();
    }
  });

  it('lists at most 64 certificates, newest first, always with the devices not removed', () => {
    const store = EmulatorStore.open(join(dir(), 'many'));
    try {
      const owner = newKey();
      const ctx = zomeContext(store, [DNA_HASHES.imagodei, owner.agent]);
      const now = Date.now();
      // The oldest certificate stays; 70 newer ones are removed.
      const kept = newKey();
      addDevice(ctx, certificate(owner, kept, { addedAt: now - 5 * MINUTE }));
      for (let i = 0; i < 70; i++) {
        const device = newKey();
        addDevice(ctx, certificate(owner, device, { addedAt: now - i * 1000 }));
        removeDevice(ctx, device.agent);
      }
      const listed = getAgentDevices(
        zomeContext(store, [DNA_HASHES.imagodei, newKey().agent]),
        owner.agent,
      );
      expect(listed).toHaveLength(64);
      expect(listed.at(-1)?.device).toEqual(kept.agent);
      expect(listed.every(verifies)).toBe(true);
      expect(listed.at(-1)?.removed_at).toBeNull();
      const times = listed.map((d) => d.added_at);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(times[0]).toBe(now);
    } finally {
      store.close();
    }
  });
});
