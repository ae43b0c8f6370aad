/**
 * The trust benchmark page (bundled and driven by bench/trust.ts): one HolochainTrustClient —
 * the real @holochain/client AppWebsocket against the doorway's conductor EMULATOR, signed by
 * a fresh Ed25519 device key — and, for the baseline, a second AppWebsocket of the same agent
 * to the same doorway that only asks `app_info` (no signing, no zome dispatch).
 */
import { AppWebsocket, decodeHashFromBase64, WsClient } from '@holochain/client';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { HolochainTrustClient, openDoorwaySession, type TrustState } from '../src/trust/index.ts';

import { listen } from '../src/wire/index.ts';
import { randomBytes } from './random.ts';

let client: HolochainTrustClient | undefined;
let plain: AppWebsocket | undefined;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started`);
  return value;
}

function randomHash(): string {
  return `sha256-${Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Creates the trust client on this page's origin (the doorway) and waits until it is connected. */
async function start(timeoutMs = 30_000): Promise<{ agent: string; peerId: string }> {
  const deviceKey = await generateKeyPair('Ed25519');
  const trust = await HolochainTrustClient.create({
    doorway: location.origin,
    deviceKey,
    dbName: `bench-trust-${crypto.randomUUID()}`,
  });
  client = trust;
  await new Promise<void>((resolve, reject) => {
    if (trust.state.status === 'connected') return resolve();
    const timer = setTimeout(
      () =>
        reject(new Error(`trust client not connected after ${timeoutMs} ms: ${trust.state.error}`)),
      timeoutMs,
    );
    const off = listen<TrustState>(trust, 'state', (state) => {
      if (state.status !== 'connected') return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
  // The baseline socket: the same connect flow, same agent, same doorway, its own socket. It
  // sets no signing credentials (app_info needs none), so the client's stay as they are.
  const session = await openDoorwaySession(
    location.origin,
    deviceKey,
    decodeHashFromBase64(trust.me),
    trust.me,
    randomBytes(64),
    AbortSignal.timeout(timeoutMs),
  );
  plain = await AppWebsocket.connect({ url: session.appUrl, token: [...session.appToken] });
  return { agent: trust.me, peerId: trust.peerId };
}

export interface LatencyRuns {
  /** `trust.findHolders(<random hash>)`: sign, websocket, emulator's find_publishers, decode. */
  zome: number[];
  /** `app_info` on the baseline AppWebsocket: the same websocket round trip, no signing or dispatch. */
  appInfo: number[];
  /** `callZome(find_publishers)` on the baseline socket: the client's wrapper left out (diagnostic). */
  raw: number[];
}

/**
 * `runs` rounds (after `warmup` untimed ones), each one call of every kind in turn, all
 * sequential: interleaved, so drift on the machine shifts all three alike.
 */
async function latency(runs: number, warmup = 20): Promise<LatencyRuns> {
  const trust = need(client, 'trust client');
  const ws = need(plain, 'baseline socket');
  const out: LatencyRuns = { zome: [], appInfo: [], raw: [] };
  for (let i = -warmup; i < runs; i++) {
    let t = performance.now();
    const holders = await trust.findHolders(randomHash());
    const zome = performance.now() - t;
    if (holders.length !== 0) throw new Error('a random hash has holders');
    t = performance.now();
    await ws.appInfo();
    const appInfo = performance.now() - t;
    t = performance.now();
    await ws.callZome({
      role_name: 'infrastructure',
      zome_name: 'infrastructure',
      fn_name: 'find_publishers',
      payload: { content_hash: randomHash(), capability: 'blob_serving', limit: 11 },
    });
    const raw = performance.now() - t;
    if (i < 0) continue;
    out.zome.push(zome);
    out.appInfo.push(appInfo);
    out.raw.push(raw);
  }
  return out;
}

/** `runs` timed `findHolders(hash)` (after 3 untimed), and how many holders each found. */
async function lookup(hash: string, runs: number): Promise<{ times: number[]; found: number }> {
  const trust = need(client, 'trust client');
  let found = 0;
  const times: number[] = [];
  for (let i = -3; i < runs; i++) {
    const t = performance.now();
    found = (await trust.findHolders(hash)).length;
    if (i >= 0) times.push(performance.now() - t);
  }
  return { times, found };
}

async function stop(): Promise<void> {
  if (plain?.client instanceof WsClient) await plain.client.close();
  await client?.close();
  plain = undefined;
  client = undefined;
}

export const trustBench = { start, latency, lookup, stop };

export type TrustBench = typeof trustBench;

Object.assign(window, { trustBench });
