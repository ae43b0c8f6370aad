import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it, vi } from 'vitest';
import { type AgentKey, agentKeyFromEd25519 } from '../reach/index.ts';
import {
  DeviceDirectory,
  deviceCertificateTerms,
  signDeviceTerms,
  verifyDeviceCertificate,
} from './devices.ts';
import type { DeviceCertificate, TrustDevice } from './types.ts';

const agentOf = (key: PrivateKey): AgentKey => agentKeyFromEd25519(key.publicKey.raw);

/** A certificate as pairing makes it: the agent key and the device key each sign the terms. */
async function certify(agentKey: PrivateKey, deviceKey: PrivateKey, name = 'Phone') {
  const addedAt = Date.now();
  const terms = deviceCertificateTerms(agentOf(agentKey), agentOf(deviceKey), name, addedAt);
  return {
    agent: agentOf(agentKey),
    device: agentOf(deviceKey),
    name: terms.name,
    addedAt,
    signature: await signDeviceTerms(agentKey, terms),
    deviceSignature: await signDeviceTerms(deviceKey, terms),
  } satisfies DeviceCertificate;
}

describe('device certificates', () => {
  it('verify only with both signatures over exactly their fields', async () => {
    const [agentKey, deviceKey, other] = await Promise.all([
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
    ]);
    const cert = await certify(agentKey, deviceKey);
    expect(await verifyDeviceCertificate(cert)).toBe(true);
    const forged: DeviceCertificate[] = [
      { ...cert, name: 'Laptop' },
      { ...cert, addedAt: cert.addedAt + 1 },
      { ...cert, device: agentOf(other) },
      { ...cert, agent: agentOf(other) },
      // The device did not agree: the agent signed its part too.
      { ...cert, deviceSignature: cert.signature },
      { ...cert, signature: 'AAAA' },
      // Another agent's certificate, claimed for this agent.
      { ...(await certify(other, deviceKey)), agent: cert.agent },
    ];
    for (const f of forged) expect(await verifyDeviceCertificate(f)).toBe(false);
    expect(() => deviceCertificateTerms(cert.agent, cert.device, '  ', 1)).toThrow(/1 to 64/);
    expect(() => deviceCertificateTerms(cert.agent, cert.device, 'x'.repeat(65), 1)).toThrow();
  });
});

describe('DeviceDirectory', () => {
  it('maps a certified device to its agent, and anything else to itself', async () => {
    const keys = () => generateKeyPair('Ed25519');
    const [agentKey, phone, removed, forged, stranger] = await Promise.all([
      keys(),
      keys(),
      keys(),
      keys(),
      keys(),
    ]);
    const certs = new Map<AgentKey, TrustDevice>([
      [agentOf(phone), await certify(agentKey, phone)],
      [agentOf(removed), { ...(await certify(agentKey, removed)), removedAt: Date.now() }],
      [agentOf(forged), { ...(await certify(agentKey, forged)), name: 'changed' }],
    ]);
    const directory = new DeviceDirectory(async (device) => {
      if (device === agentOf(stranger)) throw new Error('trust layer away');
      return certs.get(device);
    });
    const peer = (key: PrivateKey) => peerIdFromPrivateKey(key);
    expect(await directory.agentOf(peer(phone))).toBe(agentOf(agentKey));
    expect(await directory.agentOf(peer(agentKey))).toBe(agentOf(agentKey));
    expect(await directory.agentOf(peer(removed))).toBe(agentOf(removed));
    expect(await directory.agentOf(peer(forged))).toBe(agentOf(forged));
    expect(await directory.agentOf(peer(stranger))).toBe(agentOf(stranger));
    expect(await directory.agentOf({ publicKey: { type: 'RSA', raw: new Uint8Array(8) } })).toBe(
      undefined,
    );
  });

  it('asks once per device per period, forgets on clear, and remembers a bounded number', async () => {
    const [agentKey, phone] = await Promise.all([
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
    ]);
    const cert = await certify(agentKey, phone);
    let asked = 0;
    let now = 1_000_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const directory = new DeviceDirectory(
        async (device) => {
          asked++;
          return device === cert.device ? cert : undefined;
        },
        { ttlMs: 1000, maxEntries: 2 },
      );
      for (let i = 0; i < 5; i++) await directory.agentOfDevice(cert.device);
      expect(asked).toBe(1);
      now += 1001;
      await directory.agentOfDevice(cert.device);
      expect(asked).toBe(2);
      directory.clear();
      await directory.agentOfDevice(cert.device);
      expect(asked).toBe(3);
      // Two other devices push the first out: asked again.
      const others = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')]);
      for (const o of others) await directory.agentOfDevice(agentOf(o));
      await directory.agentOfDevice(cert.device);
      expect(asked).toBe(6);
    } finally {
      clock.mockRestore();
    }
  });
  it('asks again soon after a lookup failed (the trust layer away), not after the whole period', async () => {
    const [agentKey, phone] = await Promise.all([
      generateKeyPair('Ed25519'),
      generateKeyPair('Ed25519'),
    ]);
    const cert = await certify(agentKey, phone);
    let away = true;
    let asked = 0;
    let now = 5_000_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const directory = new DeviceDirectory(
        async () => {
          asked++;
          if (away) throw new Error('trust layer away');
          return cert;
        },
        { ttlMs: 60_000 },
      );
      expect(await directory.agentOfDevice(cert.device)).toBe(cert.device);
      now += 4_000;
      await directory.agentOfDevice(cert.device);
      expect(asked).toBe(1);
      away = false;
      now += 1_001;
      expect(await directory.agentOfDevice(cert.device)).toBe(cert.agent);
      now += 30_000;
      await directory.agentOfDevice(cert.device);
      expect(asked).toBe(2);
    } finally {
      clock.mockRestore();
    }
  });
});
