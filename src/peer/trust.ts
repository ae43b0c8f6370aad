import type { PrivateKey } from '@libp2p/interface';
import type { ContentStore } from '../content/index.ts';
import type { Family } from '../family/index.ts';
import type { HolderFinder, PeerNode } from '../net/index.ts';
import type { AgentKey } from '../reach/index.ts';
import type { DeviceDirectory, TrustClient, TrustSignal } from '../trust/index.ts';
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
  /** Which agent a peer speaks for (device certificates), for the gates. */
  devices: DeviceDirectory;
  family: Family;
  /** Holders the trust layer lists (dialled through the node when asked). */
  listed: HolderFinder;
  /** Reads links and devices again now, forgetting which agent each device spoke for. */
  refresh(): Promise<void>;
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
    agentKey: PrivateKey;
    node: PeerNode;
    store: ContentStore;
    links: Map<string, string>;
    /** Kept to this person's other devices (device keys as agent keys). */
    myDevices: Set<AgentKey>;
  },
  onChange: () => void,
): Promise<TrustLayer | undefined> {
  try {
    const [trust, { Family }] = await modules;
    const client = await trust.HolochainTrustClient.create({
      doorway: init.doorway,
      deviceKey: own.privateKey,
      agentKey: own.agentKey,
    });
    const { devices } = client;
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
      await refreshDevices();
      onChange();
    };
    /** Reads this person's other devices again; resolves whether they changed. */
    const refreshDevices = async (): Promise<boolean> => {
      const now = await client.myDevices();
      if (now.size === own.myDevices.size && [...now].every((d) => own.myDevices.has(d))) {
        return false;
      }
      own.myDevices.clear();
      for (const d of now) own.myDevices.add(d);
      // A removed device's cached "it is the person" must not outlive the news.
      devices.clear();
      return true;
    };
    const rereadDevices = () => {
      if (client.state.status !== 'connected') return;
      void refreshDevices()
        .then((changed) => changed && onChange())
        .catch(() => {});
    };
    listen(client, 'state', () => void refreshLinks().catch(() => {}));
    // A device added or removed on another of the person's devices: the trust layer tells this
    // one at once (when both use the same doorway), else the minute's re-read finds it. Who may
    // receive what is shared again only when they did change.
    listen<TrustSignal>(client, 'signal', (signal) => {
      if (signal.type === 'DeviceCommitted') rereadDevices();
    });
    const rereading = setInterval(rereadDevices, 60_000);
    const family = new Family({
      trust: client,
      mySecret: own.agentKey.raw,
      onError: (error) => log.error('family cluster: %e', error),
    });
    // Through the node: a holder not connected yet is dialled within its bound of peers.
    const listed = trust.trustHolderFinder(client, own.node);
    return {
      client,
      devices,
      family,
      listed,
      refresh: async () => {
        devices.clear();
        await refreshLinks();
      },
      moveTo: (doorway) => client.moveTo(doorway),
      async close() {
        clearInterval(rereading);
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
