import type { AgentKey, DeviceKey } from '../reach/index.ts';

/**
 * This browser's identity, loaded on demand (libp2p's key code and the reach module stay off
 * the first paint): the agent key (= the libp2p PeerId's Ed25519 key, DESIGN §2) and the
 * non-extractable key that seals private items.
 */
let agent: Promise<AgentKey> | undefined;
let sealing: Promise<DeviceKey> | undefined;

export function myAgent(): Promise<AgentKey> {
  agent ??= (async () => {
    const [{ loadOrCreateDeviceKey }, { agentKeyFromEd25519 }] = await Promise.all([
      import('../net/identity.ts'),
      import('../reach/index.ts'),
    ]);
    return agentKeyFromEd25519((await loadOrCreateDeviceKey()).publicKey.raw);
  })();
  return agent;
}

export function mySealingKey(): Promise<DeviceKey> {
  sealing ??= import('../reach/index.ts').then((reach) => reach.loadOrCreateSealingKey());
  return sealing;
}
