/**
 * Doorways in the trust layer: each writes its `register_doorway` entry (the Rust
 * infrastructure zome's; its PeerId as id, its addresses in `capabilities_json`) and reads
 * everyone's (`get_all_doorways`) to learn of doorways the DHT has not met yet. The trust layer
 * is what the doorway's own `/hc` routes reach: its emulator, or the conductor it forwards to,
 * which many doorways share.
 */
import { AppWebsocket, decodeHashFromBase64, setSigningCredentials } from '@holochain/client';
import type { PrivateKey } from '@libp2p/interface';
import { agentKeyFromEd25519 } from '../../src/reach/index.ts';
import { openDoorwaySession } from '../../src/trust/index.ts';
import {
  errorMessage,
  type RegisterDoorwayInput,
  sleep,
  TRUST_ROLE_OF,
  type TrustFunction,
  type TrustInput,
  type TrustOutput,
  throwIfAborted,
  withTimeout,
} from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import { MAX_DOORWAY_ADDRS } from './directory.ts';

/** What a doorway writes in its registration's `capabilities_json`. */
export interface DoorwayCapabilities {
  peer_id: string;
  multiaddrs: string[];
  dht: string;
}

/** Reads another doorway's `capabilities_json`; undefined when it says nothing usable. */
export function readCapabilities(json: string): DoorwayCapabilities | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const { peer_id, multiaddrs, dht } = (value ?? {}) as Record<string, unknown>;
  if (typeof peer_id !== 'string' || !Array.isArray(multiaddrs)) return undefined;
  const addrs = multiaddrs.filter((a): a is string => typeof a === 'string' && a.startsWith('/'));
  return {
    peer_id,
    multiaddrs: addrs.slice(0, MAX_DOORWAY_ADDRS),
    dht: typeof dht === 'string' ? dht : '',
  };
}

type Call = <F extends TrustFunction>(fn: F, payload: TrustInput<F>) => Promise<TrustOutput<F>>;

/** A session on the trust layer as `key`'s agent: the connect flow a browser runs, then calls. */
async function openCalls(
  origin: string,
  key: PrivateKey,
  signal: AbortSignal,
  callTimeoutMs: number,
): Promise<{ call: Call; close(): void }> {
  const me = agentKeyFromEd25519(key.publicKey.raw);
  const agent = decodeHashFromBase64(me);
  const capSecret = crypto.getRandomValues(new Uint8Array(64));
  const session = await openDoorwaySession(origin, key, agent, me, capSecret, signal);
  const ws = await AppWebsocket.connect({
    url: session.appUrl,
    token: [...session.appToken],
    defaultTimeout: callTimeoutMs,
  });
  const close = () =>
    void (ws.client as unknown as { close(): Promise<unknown> }).close().catch(() => {});
  try {
    const info = await ws.appInfo();
    for (const role of Object.keys(info.cell_info)) {
      setSigningCredentials(ws.getCellIdFromRoleName(role, info), {
        capSecret,
        keyPair: { keyType: 'ed25519', publicKey: key.publicKey.raw, privateKey: key.raw },
        signingKey: agent,
      });
    }
  } catch (error) {
    close();
    throw error;
  }
  const call: Call = (fn, payload) => {
    const role = TRUST_ROLE_OF[fn];
    return ws.callZome({ role_name: role, zome_name: role, fn_name: fn, payload });
  };
  return { call, close };
}

export interface TrustDirectoryInit {
  /** The HTTP origin whose `/hc` routes reach the trust layer (the doorway's own). */
  origin: string;
  /** The doorway's key: its agent writes the registration. */
  key: PrivateKey;
  /** What the registration says. */
  self: () => { peerId: string; url: string; multiaddrs: string[]; dht: string };
  /** A doorway read from the trust layer. */
  learn: (peerId: string, multiaddrs: string[], url: string) => void;
  log: Logger;
  /** How often registrations are read (and ours rewritten when its addresses changed). Default 60 s. */
  intervalMs?: number;
  /** Per connect and per call. Default 15 s. */
  timeoutMs?: number;
}

/**
 * Registers the doorway, then reads every registration now and every `intervalMs`, until
 * stopped. A trust layer that cannot be reached is tried again at the next round (logged).
 */
export class TrustDirectory {
  readonly #stop = new AbortController();
  #running: Promise<void> = Promise.resolve();
  #registered = '';
  /** Registrations read in the last round (others' and ours). */
  lastRead = 0;

  constructor(private readonly init: TrustDirectoryInit) {}

  start(): void {
    this.#running = this.#loop();
  }

  /** One round now: register (or update) this doorway, read everyone's. */
  async round(): Promise<void> {
    const { init } = this;
    const timeoutMs = init.timeoutMs ?? 15_000;
    const signal = withTimeout(this.#stop.signal, timeoutMs);
    const session = await openCalls(init.origin, init.key, signal, timeoutMs);
    // Stopping closes the socket, which fails the call under way at once (calls take no signal).
    const stopped = this.#stop.signal;
    stopped.addEventListener('abort', session.close, { once: true });
    try {
      throwIfAborted(stopped);
      const self = init.self();
      const input: RegisterDoorwayInput = {
        id: self.peerId,
        url: self.url,
        capabilities_json: JSON.stringify({
          peer_id: self.peerId,
          multiaddrs: self.multiaddrs.slice(0, MAX_DOORWAY_ADDRS),
          dht: self.dht,
        } satisfies DoorwayCapabilities),
        reach: 'commons',
        version: '0.1.0',
      };
      const text = JSON.stringify(input);
      if (text !== this.#registered) {
        const existing = await session.call('get_doorway_by_id', self.peerId);
        await session.call(existing ? 'update_doorway' : 'register_doorway', input);
        this.#registered = text;
      }
      const all = await session.call('get_all_doorways', null);
      this.lastRead = all.length;
      for (const { doorway } of all) {
        const caps = readCapabilities(doorway.capabilities_json);
        // The id is the PeerId the registration names; an entry contradicting itself is skipped.
        if (!caps || caps.peer_id !== doorway.id || caps.peer_id === self.peerId) continue;
        init.learn(caps.peer_id, caps.multiaddrs, doorway.url);
      }
    } finally {
      stopped.removeEventListener('abort', session.close);
      session.close();
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      try {
        await this.round();
      } catch (error) {
        if (stop.aborted) return;
        this.init.log.info(`federation: trust layer not reachable now: ${errorMessage(error)}`);
      }
      await sleep(this.init.intervalMs ?? 60_000, stop);
    }
  }
}
