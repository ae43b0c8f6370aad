/**
 * Keeps the trust layer told what this browser holds and where it can be dialled: the tab
 * that runs the node calls {@link linkTrust} once. Every item others may receive (everything
 * but `private`) is announced when it is stored and withdrawn when it is removed; the
 * node's dialable addresses follow it; on the first connection the library is reconciled with
 * what the trust layer already lists, so items stored while the doorway was away are announced.
 * When the person works offline, everything is marked offline (nobody should dial a peer that
 * refuses every connection) and announced again when they come back.
 */
import type { ContentChangeEvent, ContentStore } from '../content/index.ts';
import type { TrustClient } from './types.ts';

/** What the link needs of the node: its dialable addresses, and `change` when they move. */
export interface AddressSource extends EventTarget {
  snapshot(): { webrtcAddrs: string[]; workingOffline?: boolean };
}

export interface TrustLinkOptions {
  /** The name other people see for this agent. */
  displayName: string;
  /** Reports what could not be announced (the outbox keeps retrying what it can). */
  onError?: (error: unknown) => void;
}

/** Starts the link; the returned function stops it. */
export function linkTrust(
  trust: TrustClient,
  node: AddressSource,
  store: ContentStore,
  { displayName, onError = () => {} }: TrustLinkOptions,
): () => void {
  const shareable = async (hash: string) => {
    const manifest = await store.manifest(hash);
    return !!manifest && manifest.reach !== 'private';
  };
  let offline = node.snapshot().workingOffline === true;
  const onNodeChange = () => {
    const snapshot = node.snapshot();
    void trust.setAddresses(snapshot.webrtcAddrs).catch(onError);
    const nowOffline = snapshot.workingOffline === true;
    if (nowOffline === offline) return;
    offline = nowOffline;
    if (offline) void withdrawAll().catch(onError);
    else {
      reconciled = false;
      void reconcile();
    }
  };
  const withdrawAll = async () => {
    for (const a of await trust.myAnnouncements()) if (a.online) await trust.withdraw(a.hash);
  };
  const onStoreChange = (event: ContentChangeEvent) => {
    if (event.kind === 'added') {
      if (offline) return; // announced on the way back

      void shareable(event.hash)
        .then((yes) => (yes ? trust.announce(event.hash) : undefined))
        .catch(onError);
    } else if (event.kind === 'removed') {
      void trust.withdraw(event.hash).catch(onError);
    }
  };
  let reconciled = false;
  const reconcile = async () => {
    if (reconciled || offline || trust.state.status !== 'connected') return;
    reconciled = true;
    try {
      const listed = new Set(
        (await trust.myAnnouncements()).filter((a) => a.online).map((a) => a.hash),
      );
      for (const manifest of await store.list()) {
        if (manifest.reach !== 'private' && !listed.has(manifest.blob_hash)) {
          await trust.announce(manifest.blob_hash);
        }
      }
    } catch (error) {
      reconciled = false;
      onError(error);
    }
  };

  node.addEventListener('change', onNodeChange);
  store.addEventListener('change', onStoreChange);
  const stopState = trust.on('state', () => void reconcile());
  onNodeChange();
  void trust.registerAgent({ display_name: displayName }).catch(onError);
  void reconcile();
  return () => {
    node.removeEventListener('change', onNodeChange);
    store.removeEventListener('change', onStoreChange);
    stopState();
  };
}
