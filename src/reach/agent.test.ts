import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519, agentKeyOfPeer, ed25519FromAgentKey } from './agent.ts';
import { InvalidAgentKeyError } from './errors.ts';

describe('agent keys', () => {
  it('match @holochain/client and round-trip', async () => {
    const { encodeHashToBase64, hashFrom32AndType, HoloHashType } = await import(
      '@holochain/client'
    );
    for (let i = 0; i < 5; i++) {
      const pub = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
      const agent = agentKeyFromEd25519(pub);
      expect(agent).toBe(encodeHashToBase64(hashFrom32AndType(pub, HoloHashType.Agent)));
      expect(agent).toMatch(/^uhCAk[A-Za-z0-9_-]{48}$/);
      expect(ed25519FromAgentKey(agent)).toEqual(pub);
    }
  });

  it('rejects what is not an agent key, saying why', () => {
    const agent = agentKeyFromEd25519(new Uint8Array(32).fill(7));
    const last = agent.at(-1) === 'A' ? 'B' : 'A';
    const cases: [string, RegExp][] = [
      [agent.slice(1), /start with "u"/],
      [agent.slice(0, -4), /39 bytes/],
      [`${agent.slice(0, -1)}${last}`, /location bytes/],
      [`uhCEk${agent.slice(5)}`, /another type/],
      ['u!!', /39 bytes/],
    ];
    for (const [input, why] of cases) {
      expect(() => ed25519FromAgentKey(input)).toThrow(InvalidAgentKeyError);
      expect(() => ed25519FromAgentKey(input)).toThrow(why);
    }
    expect(() => agentKeyFromEd25519(new Uint8Array(31))).toThrow(/32 bytes/);
  });

  it('maps an Ed25519 libp2p PeerId to its agent, other key types to none', async () => {
    const ed = await generateKeyPair('Ed25519');
    expect(agentKeyOfPeer(peerIdFromPrivateKey(ed))).toBe(agentKeyFromEd25519(ed.publicKey.raw));
    const secp = await generateKeyPair('secp256k1');
    expect(agentKeyOfPeer(peerIdFromPrivateKey(secp))).toBeUndefined();
  });
});
