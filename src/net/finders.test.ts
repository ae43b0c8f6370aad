import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import type { HolderFinder } from './fetch.ts';
import { nearFirst } from './finders.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;
const OTHER = `sha256-${'cd'.repeat(32)}`;

const newPeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
const finderOf = (...peers: PeerId[]): HolderFinder => ({ findHolders: async () => peers });
const failing = (message: string): HolderFinder => ({
  findHolders: () => Promise.reject(new Error(message)),
});

/** A finder whose answers wait until the test releases them (or the signal aborts). */
function gated() {
  const waiting: { resolve: (peers: PeerId[]) => void }[] = [];
  const finder: HolderFinder = {
    findHolders: (_hash, { signal }) =>
      new Promise<PeerId[]>((resolve, reject) => {
        waiting.push({ resolve });
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  };
  return { finder, release: (peers: PeerId[]) => waiting.shift()?.resolve(peers), waiting };
}

const ids = (peers: PeerId[]) => peers.map(String);

describe('nearFirst', () => {
  it('answers from a connected holder without waiting for the trust layer', async () => {
    const [near, listed] = [await newPeer(), await newPeer()];
    const trust = gated();
    const finder = nearFirst(finderOf(near), trust.finder);
    // The trust layer never answers here: the answer comes from the peers at hand alone.
    expect(ids(await finder.findHolders(HASH, { signal: new AbortController().signal }))).toEqual(
      ids([near]),
    );
    expect(trust.waiting).toHaveLength(1);
    // What the trust layer finds afterwards joins the next answer for that hash only.
    trust.release([listed, near]);
    const second = finder.findHolders(HASH, { signal: new AbortController().signal });
    expect(ids(await second)).toEqual(ids([near, listed]));
    const other = finder.findHolders(OTHER, { signal: new AbortController().signal });
    expect(ids(await other)).toEqual(ids([near]));
  });

  it('waits for the trust layer when the connected holders are all known to the caller', async () => {
    const [near, listed] = [await newPeer(), await newPeer()];
    const trust = gated();
    const finder = nearFirst(finderOf(near), trust.finder);
    let settled = false;
    const answer = finder.findHolders(HASH, {
      signal: new AbortController().signal,
      known: new Set([near.toString()]),
    });
    void answer.finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    trust.release([listed]);
    expect(ids(await answer)).toEqual(ids([near, listed]));
  });

  it('waits for the trust layer when no connected peer holds the hash', async () => {
    const listed = await newPeer();
    const trust = gated();
    const finder = nearFirst(finderOf(), trust.finder);
    let settled = false;
    const answer = finder.findHolders(HASH, { signal: new AbortController().signal });
    void answer.finally(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    trust.release([listed]);
    expect(ids(await answer)).toEqual(ids([listed]));
  });

  it('forgets what the trust layer found after rememberMs, and bounds what it remembers', async () => {
    const [near, listed] = [await newPeer(), await newPeer()];
    let clock = 0;
    const trust = gated();
    const finder = nearFirst(finderOf(near), trust.finder, {
      rememberMs: 1_000,
      maxRemembered: 1,
      now: () => clock,
    });
    const signal = new AbortController().signal;
    await finder.findHolders(HASH, { signal });
    trust.release([listed]);
    await finder.findHolders(OTHER, { signal });
    trust.release([listed]);
    // OTHER pushed HASH out (one hash remembered at most).
    expect(ids(await finder.findHolders(HASH, { signal }))).toEqual(ids([near]));
    expect(ids(await finder.findHolders(OTHER, { signal }))).toEqual(ids([near, listed]));
    clock = 1_000;
    expect(ids(await finder.findHolders(OTHER, { signal }))).toEqual(ids([near]));
  });

  it('tolerates one failing finder and fails only when both do', async () => {
    const peer = await newPeer();
    const signal = new AbortController().signal;
    expect(await nearFirst(failing('near'), finderOf(peer)).findHolders(HASH, { signal })).toEqual([
      peer,
    ]);
    expect(await nearFirst(finderOf(peer), failing('far')).findHolders(HASH, { signal })).toEqual([
      peer,
    ]);
    await expect(
      nearFirst(failing('near'), failing('far')).findHolders(HASH, { signal }),
    ).rejects.toThrow('near');
  });

  it('stops with the caller: an aborted search rejects with its reason', async () => {
    const trust = gated();
    const controller = new AbortController();
    const answer = nearFirst(finderOf(), trust.finder).findHolders(HASH, {
      signal: controller.signal,
    });
    controller.abort(new Error('seeked away'));
    await expect(answer).rejects.toThrow('seeked away');
  });
});
