import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { payloadToJson } from '../backup/index.ts';
import { agentKeyFromEd25519 } from '../reach/index.ts';
import { addrOf, loopbackNode } from '../test-support/libp2p.ts';
import type { DeviceCertificate, TrustDevice } from '../trust/index.ts';
import { verifyDeviceCertificate } from '../trust/index.ts';
import { PAIR_PROTOCOL, PairingJoin, PairingOffer, parsePairingLink } from './index.ts';

const nodes: Libp2p[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(): Promise<Libp2p> {
  const n = await loopbackNode();
  nodes.push(n);
  return n;
}

/** Resolves with the first state `emitter` reaches that `pick` accepts (bounded by the test timeout). */
function reach<S extends { step: string }>(
  emitter: { state: S; addEventListener(type: 'change', fn: (e: CustomEvent<S>) => void): void },
  step: S['step'],
): Promise<S> {
  return new Promise((resolve) => {
    if (emitter.state.step === step) return resolve(emitter.state);
    emitter.addEventListener('change', (e) => e.detail.step === step && resolve(e.detail));
  });
}

async function offerOn(n: Libp2p, agentKey: PrivateKey, more: { ttlMs?: number } = {}) {
  const added: DeviceCertificate[] = [];
  const agent = agentKeyFromEd25519(agentKey.publicKey.raw);
  const payload = payloadToJson({
    identity: privateKeyToProtobuf(agentKey),
    agent,
    contacts: [{ agent, name: 'me', types: [] }].slice(0, 0),
    settings: { 'elohim-name': 'Ana' },
    items: [],
  });
  const offer = await PairingOffer.open({
    libp2p: n,
    agentKey,
    addrs: [addrOf(n).toString()],
    origin: 'https://elohim.test',
    addDevice: async (cert) => {
      added.push(cert);
      return cert as TrustDevice;
    },
    payload: async () => payload,
    ...more,
  });
  return { offer, added, agent };
}

describe('pairing', () => {
  it('pairs: both screens show one code; after both confirm, the new device gets a certificate both keys signed and the keys', async () => {
    const [one, two] = await Promise.all([node(), node()]);
    const agentKey = await generateKeyPair('Ed25519');
    const deviceKey = await generateKeyPair('Ed25519');
    const { offer, added, agent } = await offerOn(one, agentKey);
    expect(offer.link).toMatch(/^https:\/\/elohim\.test\/pair#/);

    // `two` is a libp2p node with its own key; the join signs with `deviceKey`, its PeerId key.
    const twoWithKey = await loopbackNodeWithKey(deviceKey);
    const join = PairingJoin.start({
      libp2p: twoWithKey,
      deviceKey,
      link: parsePairingLink(offer.link),
      name: '  Phone ',
    });
    const [asked, shown] = await Promise.all([reach(offer, 'confirm'), reach(join, 'confirm')]);
    expect(asked.step === 'confirm' && shown.step === 'confirm').toBe(true);
    if (asked.step !== 'confirm' || shown.step !== 'confirm') return;
    expect(asked.code).toMatch(/^\d{3} \d{3}$/);
    expect(shown.code).toBe(asked.code);
    expect(shown.agent).toBe(agent);
    expect(asked.name).toBe('Phone');
    // Nothing is certified before both people confirmed.
    join.confirm();
    await reach(join, 'waiting');
    expect(added).toEqual([]);
    offer.confirm();
    const [done, joined] = await Promise.all([reach(offer, 'done'), reach(join, 'done')]);
    expect(done.step).toBe('done');
    expect(added).toHaveLength(1);
    const cert = added[0] as DeviceCertificate;
    expect(cert).toMatchObject({ agent, device: agentKeyFromEd25519(deviceKey.publicKey.raw) });
    expect(await verifyDeviceCertificate(cert)).toBe(true);
    if (joined.step !== 'done') return;
    expect(joined.payload.agent).toBe(agent);
    expect(joined.payload.settings).toEqual({ 'elohim-name': 'Ana' });
    expect(joined.certificate).toEqual(cert);
    // Single use: the offer's handler is gone.
    await expect(two.dialProtocol(addrOf(one), PAIR_PROTOCOL)).rejects.toThrow();
  });

  it('refuses a wrong token without spending the offer; three wrong ones close it', async () => {
    const [one] = await Promise.all([node()]);
    const agentKey = await generateKeyPair('Ed25519');
    const { offer } = await offerOn(one, agentKey);
    const link = parsePairingLink(offer.link);
    for (let i = 0; i < 3; i++) {
      const key = await generateKeyPair('Ed25519');
      const join = PairingJoin.start({
        libp2p: await loopbackNodeWithKey(key),
        deviceKey: key,
        link: { ...link, token: 'AAAAAAAAAAAAAAAAAAAAAA' },
        name: 'Intruder',
      });
      const failed = await reach(join, 'failed');
      expect(failed.step === 'failed' && failed.message).toMatch(/not valid/);
      expect(offer.state.step).toBe(i < 2 ? 'waiting' : 'failed');
    }
  });

  it('the offer expires; a cancelled join leaves the offer failed, nothing certified', async () => {
    const one = await node();
    const agentKey = await generateKeyPair('Ed25519');
    const expiring = await offerOn(one, agentKey, { ttlMs: 50 });
    await reach(expiring.offer, 'expired');

    const { offer, added } = await offerOn(one, agentKey);
    const key = await generateKeyPair('Ed25519');
    const join = PairingJoin.start({
      libp2p: await loopbackNodeWithKey(key),
      deviceKey: key,
      link: parsePairingLink(offer.link),
      name: 'Phone',
    });
    await reach(join, 'confirm');
    join.cancel();
    offer.confirm();
    expect((await reach(join, 'failed')).step).toBe('failed');
    const ended = await reach(offer, 'failed');
    expect(ended.step).toBe('failed');
    expect(added).toEqual([]);
  });

  it('refuses an oversized hello before reading it, and the offer stays open', async () => {
    const [one, other] = await Promise.all([node(), node()]);
    const { offer } = await offerOn(one, await generateKeyPair('Ed25519'));
    const stream = await other.dialProtocol(addrOf(one), PAIR_PROTOCOL);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 64 * 1024 * 1024);
    stream.send(header);
    const answer = await readAllText(stream);
    expect(answer).toMatch(/cancel/);
    expect(offer.state.step).toBe('waiting');
  });

  it('keeps nothing from a welcome whose certificate is not the one agreed', async () => {
    const [rogue] = await Promise.all([node()]);
    const agentKey = await generateKeyPair('Ed25519');
    const agent = agentKeyFromEd25519(agentKey.publicKey.raw);
    const { sendMessage, readMessage } = await import('./protocol.ts');
    // A device that answers with terms, then a welcome certifying someone else.
    await rogue.handle(PAIR_PROTOCOL, async (stream) => {
      await readMessage(stream, 'hello', { maxBytes: 1024 });
      await sendMessage(stream, { t: 'terms', agent, name: 'Phone', added_at: Date.now() });
      await readMessage(stream, 'agree', { maxBytes: 1024 });
      await sendMessage(stream, {
        t: 'welcome',
        certificate: {
          agent,
          device: agent,
          name: 'Phone',
          added_at: 0,
          signature: 'x',
          device_signature: 'y',
        },
        payload: '{}',
      });
    });
    const key = await generateKeyPair('Ed25519');
    const join = PairingJoin.start({
      libp2p: await loopbackNodeWithKey(key),
      deviceKey: key,
      link: {
        peer: rogue.peerId.toString(),
        token: 'AAAAAAAAAAAAAAAAAAAAAA',
        addrs: [addrOf(rogue).toString()],
      },
      name: 'Phone',
    });
    await reach(join, 'confirm');
    join.confirm();
    const failed = await reach(join, 'failed');
    expect(failed.step === 'failed' && failed.message).toMatch(/not the one agreed/);
  });

  it('parses only links it made', () => {
    expect(() => parsePairingLink('https://x/pair#')).toThrow(/not a pairing link/);
    expect(() => parsePairingLink('https://x/pair#bm9wZQ')).toThrow(/not a pairing link/);
  });
});

async function loopbackNodeWithKey(privateKey: PrivateKey): Promise<Libp2p> {
  const n = await loopbackNode(false, undefined, privateKey);
  nodes.push(n);
  return n;
}

async function readAllText(stream: import('@libp2p/interface').Stream): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream)
    parts.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
  return new TextDecoder().decode(Buffer.concat(parts));
}

vi.setConfig({ testTimeout: 30_000 });
