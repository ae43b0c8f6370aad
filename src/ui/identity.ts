import type { PrivateKey } from '@libp2p/interface';
import type { AgentKey, DeviceKey } from '../reach/index.ts';

/**
 * This browser's identity, loaded on demand (libp2p's key code and the reach module stay off
 * the first paint): the agent key (= the libp2p PeerId's Ed25519 key, docs/design.md §2), its secret
 * (invited items are sealed with relationship keys derived from it) and the non-extractable
 * key that seals private items.
 */
let identity: Promise<PrivateKey> | undefined;
let agent: Promise<AgentKey> | undefined;
let sealing: Promise<DeviceKey> | undefined;

function deviceKey(): Promise<PrivateKey> {
  identity ??= import('../net/identity.ts').then((id) => id.loadOrCreateDeviceKey());
  return identity;
}

export function myAgent(): Promise<AgentKey> {
  agent ??= (async () => {
    const [key, { agentKeyFromEd25519 }] = await Promise.all([
      deviceKey(),
      import('../reach/index.ts'),
    ]);
    return agentKeyFromEd25519(key.publicKey.raw);
  })();
  return agent;
}

/** The Ed25519 secret of this browser's identity (`mySecret` for relationship keys). */
export async function myIdentitySecret(): Promise<Uint8Array> {
  return (await deviceKey()).raw;
}

export function mySealingKey(): Promise<DeviceKey> {
  sealing ??= import('../reach/index.ts').then((reach) => reach.loadOrCreateSealingKey());
  return sealing;
}
