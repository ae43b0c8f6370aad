import type { PrivateKey } from '@libp2p/interface';
import type { ContentStore } from '../content/index.ts';
import type { Family } from '../family/index.ts';
import type { HolderFinder, PeerNode } from '../net/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { listen, logger } from '../wire/index.ts';

const log = logger('peer:trust');

type TrustModules = [typeof import('../trust/index.ts'), typeof import('../family/index.ts')];

/** The trust and family code, loaded on demand (started early: it loads while the node starts). */
export function loadTrustModules(): Promise<TrustModules> {
  return Promise.all([import('../trust/index.ts'), import('../family/index.ts')]);
}

export interface TrustInit {
  /** The doorway that hosts the trust layer (HTTP origin). */
  doorway: string;
  /** The name other people see for this agent. */
  displayName?: string;
}

export interface TrustLayer {
  client: TrustClient;
  family: Family;
  /** Holders the trust layer lists (dialled through the node when asked). */
  listed: HolderFinder;
  /** Logs in through another doorway's trust layer, with the same key (failover). */
  moveTo(doorway: string): void;
  /** Stops announcing, closes the family cluster and the connection. */
  close(): Promise<void>;
}

/**
 * Connects to the doorway's trust layer (who holds what, who trusts whom), keeps it told what
 * this peer holds, keeps `links` (agent → relationship type) current and opens the family
 * cluster. The peer works without it: a failure is logged, fetches then ask connected peers
 * only. `onChange`: the links changed.
 */
export async function startTrust(
  modules: Promise<TrustModules>,
  init: TrustInit,
  own: {
    privateKey: PrivateKey;
    node: PeerNode;
    store: ContentStore;
    links: Map<string, string>;
  },
  onChange: () => void,
): Promise<TrustLayer | undefined> {
  try {
    const [trust, { Family }] = await modules;
    const client = await trust.HolochainTrustClient.create({
      doorway: init.doorway,
      deviceKey: own.privateKey,
    });
    const unlink = trust.linkTrust(client, own.node, own.store, {
      displayName: init.displayName ?? 'Someone on Elohim',
      onError: (error) => log.error('could not announce: %e', error),
    });
    const refreshLinks = async () => {
      if (client.state.status !== 'connected') return;
      for (const link of await client.myRelationships()) {
        const other = link.initiator === client.me ? link.otherAgent : link.initiator;
        own.links.set(other, link.type);
      }
      onChange();
    };
    listen(client, 'state', () => void refreshLinks().catch(() => {}));
    const family = new Family({
      trust: client,
      mySecret: own.privateKey.raw,
      onError: (error) => log.error('family cluster: %e', error),
    });
    // Through the node: a holder not connected yet is dialled within its bound of peers.
    const listed = trust.trustHolderFinder(client, own.node);
    return {
      client,
      family,
      listed,
      moveTo: (doorway) => client.moveTo(doorway),
      async close() {
        unlink();
        family.close();
        await client.close();
      },
    };
  } catch (error) {
    log.error('trust layer unavailable: %e', error);
    return undefined;
  }
}
