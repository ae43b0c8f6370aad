import { useEffect, useState } from 'react';
import type { ContentStore } from '../content/index.ts';
import type { NodeSnapshot, PeerNode } from '../net/index.ts';
import { savedDoorways } from './doorwaySettings.ts';
import { errorMessage } from './format.ts';

export type PeerState =
  | { status: 'starting' }
  /** Another tab of this browser runs the node (one identity, one node); this tab waits its turn. */
  | { status: 'other-tab' }
  | { status: 'failed'; error: string }
  | { status: 'running'; node: PeerNode; snapshot: NodeSnapshot };

const LOCK = 'elohim-peer-node';

/** Doorways to use: the settings' list, else the origin that served the app. */
export function configuredDoorways(): string[] {
  return savedDoorways() ?? [location.origin];
}

let started: Promise<PeerNode> | undefined;

/**
 * Starts this page's libp2p node once, holding a Web Lock so that only one tab per browser
 * profile runs it; when that tab closes the lock passes to a waiting tab, which starts its own.
 * libp2p loads on demand so it stays off the first paint.
 */
function startNode(store: ContentStore, onWaiting: () => void): Promise<PeerNode> {
  started ??= new Promise<PeerNode>((resolve, reject) => {
    const run = async () => {
      try {
        const { PeerNode } = await import('../net/index.ts');
        resolve(await PeerNode.start({ doorways: configuredDoorways(), store }));
      } catch (error) {
        reject(error);
        return;
      }
      // Hold the lock for the life of the page.
      await new Promise(() => {});
    };
    navigator.locks
      .request(LOCK, { ifAvailable: true }, async (lock) => {
        if (lock) return run();
        onWaiting();
        return navigator.locks.request(LOCK, run);
      })
      .catch(reject);
  });
  return started;
}

export function usePeerNode(store: ContentStore | undefined): PeerState {
  const [state, setState] = useState<PeerState>({ status: 'starting' });

  useEffect(() => {
    if (!store) return;
    let live = true;
    let unsubscribe = () => {};
    startNode(
      store,
      () => live && setState((s) => (s.status === 'starting' ? { status: 'other-tab' } : s)),
    ).then(
      (node) => {
        if (!live) return;
        const update = () =>
          live && setState({ status: 'running', node, snapshot: node.snapshot() });
        node.addEventListener('change', update);
        unsubscribe = () => node.removeEventListener('change', update);
        update();
      },
      (error: unknown) => live && setState({ status: 'failed', error: errorMessage(error) }),
    );
    return () => {
      live = false;
      unsubscribe();
    };
  }, [store]);

  return state;
}
