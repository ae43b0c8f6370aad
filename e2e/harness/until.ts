/** Waiting on a harness page's node: shared by the harnesses that start one. */
import type { NodeSnapshot, PeerNode } from '../../src/net/index.ts';

/** Resolves once `ready` holds for the node's snapshot: checked now and on every `change`. */
export function until(node: PeerNode, ready: (snapshot: NodeSnapshot) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!ready(node.snapshot())) return;
      node.removeEventListener('change', check);
      resolve();
    };
    node.addEventListener('change', check);
    check();
  });
}
