import type { PrivateKey } from '@libp2p/interface';
import type { AgentKey, DeviceKey } from '../reach/index.ts';
import { storedAgentKey } from './staged.ts';

/**
 * This browser profile's identity, loaded once per page and on demand (libp2p's key code and
 * the reach module stay off the first paint): the device key (the libp2p PeerId's key); the
 * person's agent key — the device key itself, unless this profile was paired to a person
 * (docs/design.md §2); the agent secret, from which the person key and relationship keys are
 * derived; and the non-extractable key that seals private items.
 */
export interface Identity {
  /** The device key: this profile's PeerId. */
  readonly privateKey: PrivateKey;
  /** The person's agent key: signs trust-layer calls, names and opens the person's items. */
  readonly agentKey: PrivateKey;
  readonly agent: AgentKey;
  /** The agent's Ed25519 secret (`mySecret` for the person and relationship keys). */
  readonly secret: Uint8Array;
}

let identity: Promise<Identity> | undefined;
let sealing: Promise<DeviceKey> | undefined;

export function pageIdentity(): Promise<Identity> {
  identity ??= (async () => {
    const [{ loadOrCreateDeviceKey }, { agentKeyFromEd25519 }, keys] = await Promise.all([
      import('./device-key.ts'),
      import('../reach/index.ts'),
      import('@libp2p/crypto/keys'),
    ]);
    const privateKey = await loadOrCreateDeviceKey();
    const paired = await storedAgentKey();
    const agentKey = paired ? keys.privateKeyFromProtobuf(paired) : privateKey;
    return {
      privateKey,
      agentKey,
      agent: agentKeyFromEd25519(agentKey.publicKey.raw),
      secret: agentKey.raw,
    };
  })();
  return identity;
}

/** The key that seals this profile's private items (non-extractable, in IndexedDB). */
export function pageSealingKey(): Promise<DeviceKey> {
  sealing ??= import('../reach/index.ts').then((reach) => reach.loadOrCreateSealingKey());
  return sealing;
}
