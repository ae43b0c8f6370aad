import type { PrivateKey } from '@libp2p/interface';
import type { AgentKey, DeviceKey } from '../reach/index.ts';

/**
 * This browser profile's identity, loaded once per page and on demand (libp2p's key code and
 * the reach module stay off the first paint): the device key, which is also the libp2p PeerId's
 * key and the agent key (docs/design.md §2); its secret, from which invited items' relationship
 * keys are derived; and the non-extractable key that seals private items.
 */
export interface Identity {
  readonly privateKey: PrivateKey;
  readonly agent: AgentKey;
  /** The Ed25519 secret (`mySecret` for relationship keys). */
  readonly secret: Uint8Array;
}

let identity: Promise<Identity> | undefined;
let sealing: Promise<DeviceKey> | undefined;

export function pageIdentity(): Promise<Identity> {
  identity ??= (async () => {
    const [{ loadOrCreateDeviceKey }, { agentKeyFromEd25519 }] = await Promise.all([
      import('./device-key.ts'),
      import('../reach/index.ts'),
    ]);
    const privateKey = await loadOrCreateDeviceKey();
    return {
      privateKey,
      agent: agentKeyFromEd25519(privateKey.publicKey.raw),
      secret: privateKey.raw,
    };
  })();
  return identity;
}

/** The key that seals this profile's private items (non-extractable, in IndexedDB). */
export function pageSealingKey(): Promise<DeviceKey> {
  sealing ??= import('../reach/index.ts').then((reach) => reach.loadOrCreateSealingKey());
  return sealing;
}
