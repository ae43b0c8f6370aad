/**
 * The connection to the doorway's trust layer: the real `@holochain/client` AppWebsocket,
 * opened through the doorway's connect flow (session.ts), signed by the device key, replaced
 * from scratch with exponential backoff whenever it fails or drops (README.md, "Connection").
 */
import {
  AppWebsocket,
  encodeHashToBase64,
  type Signal,
  setSigningCredentials,
  WsClient,
} from '@holochain/client';
import type { PrivateKey } from '@libp2p/interface';
import {
  errorMessage,
  isWireErrorKind,
  logger,
  TRUST_ROLE_OF,
  type TrustFunction,
  type TrustInput,
  type TrustOutput,
  type TypedEventTarget,
  withSignal,
  withTimeout,
} from '../wire/index.ts';
import { TrustAuthError, TrustOfflineError, TrustRefusedError } from './errors.ts';
import { openDoorwaySession } from './session.ts';
import type { TrustEventMap, TrustState } from './types.ts';
import type { ZomeCalls } from './zome.ts';

export interface ConnectionOptions {
  /** HTTP origin of the doorway. */
  doorway: string;
  deviceKey: PrivateKey;
  /** This device's agent key, as text and as its 39 bytes. */
  me: string;
  agent: Uint8Array;
  /** The secret of this device's capability grant (the same on every reconnect). */
  capSecret: Uint8Array;
  minBackoffMs: number;
  maxBackoffMs: number;
  callTimeoutMs: number;
  connectTimeoutMs: number;
}

const log = logger('trust');

/**
 * What we use of the client's socket: a DOM WebSocket in the page, the `ws` package's (same
 * interface) in Node.
 */
interface SocketLike {
  readonly readyState: number;
  close(code?: number): void;
  addEventListener(type: 'close', listener: () => void): void;
  removeEventListener(type: 'close', listener: () => void): void;
}

const SOCKET_OPEN = 1;

function socketOf(ws: AppWebsocket): SocketLike | undefined {
  return ws.client instanceof WsClient ? (ws.client.socket as unknown as SocketLike) : undefined;
}

function closeSocket(ws: AppWebsocket): void {
  const socket = socketOf(ws);
  if (socket && socket.readyState <= SOCKET_OPEN) socket.close(1000);
}

/**
 * Keeps one live AppWebsocket while started: `state` and `signal` events go to `events`,
 * `onConnected` runs each time a connection is ready for calls.
 */
export class TrustConnection implements ZomeCalls {
  readonly #stop = new AbortController();
  /** The doorway connected to (or tried): the configured one until {@link moveTo}. */
  #doorway: string;
  /** Aborts the connect attempt in progress (a move does not wait for a dead doorway's timeout). */
  #attempt: AbortController | undefined;
  /** Set by a move: the next attempt starts at once. */
  #moved = false;
  #state: TrustState = { status: 'connecting' };
  #ws: AppWebsocket | undefined;
  #dropConnection: ((reason: string) => void) | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: TypedEventTarget<TrustEventMap>,
    private readonly onConnected: () => void,
  ) {
    this.#doorway = options.doorway;
  }

  /** The doorway whose trust layer this connection uses now. */
  get doorway(): string {
    return this.#doorway;
  }

  get state(): TrustState {
    return { ...this.#state };
  }

  /** Whether calls can go out now. */
  get online(): boolean {
    return this.#ws !== undefined;
  }

  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Starts connecting (and reconnecting) in the background, until `close`. */
  start(): void {
    this.#running = this.#keepConnected();
  }

  async call<F extends TrustFunction>(
    fn: F,
    payload: TrustInput<F>,
    signal?: AbortSignal,
  ): Promise<TrustOutput<F>> {
    const ws = this.#ws;
    if (!ws) throw new TrustOfflineError(this.#doorway, this.#state.error);
    const role = TRUST_ROLE_OF[fn];
    try {
      return await withSignal(
        ws.callZome<TrustOutput<F>>(
          { role_name: role, zome_name: role, fn_name: fn, payload },
          this.options.callTimeoutMs,
        ),
        signal,
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof Error && isWireErrorKind(error.name)) {
        throw new TrustRefusedError(fn, error.name, error.message);
      }
      // Closed mid-call or timed out: this socket is done for; reconnect from scratch (the
      // client's own transparent reconnect would reuse tokens that may have expired).
      if (this.#ws === ws) this.#dropConnection?.(`${fn} failed: ${errorMessage(error)}`);
      throw new TrustOfflineError(this.#doorway, errorMessage(error));
    }
  }

  /** Skips the backoff wait. */
  reconnect(): void {
    this.#wake?.();
  }

  /**
   * Moves to another doorway's trust layer (failover: the one in use stopped answering): the
   * current connection or attempt is dropped and the connect flow runs there at once, signed by
   * the same device key, so the same agent logs in; the outbox then sends what waits.
   */
  moveTo(doorway: string): void {
    if (doorway === this.#doorway || this.closed) return;
    log('moving from %s to %s', this.#doorway, doorway);
    this.#doorway = doorway;
    this.#moved = true;
    this.#attempt?.abort(new Error(`moved to ${doorway}`));
    this.#dropConnection?.(`moved to ${doorway}`);
    this.#wake?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.#stop.abort();
    this.#wake?.();
    this.#dropConnection?.('closed');
    await this.#running;
  }

  #setState(state: TrustState): void {
    this.#state = { ...state, doorway: this.#doorway };
    log('%s %s%s', this.#doorway, state.status, state.error ? `: ${state.error}` : '');
    this.events.safeDispatchEvent('state', { detail: { ...this.#state } });
  }

  /** Connects, serves until the connection drops, waits, again: until closed. */
  async #keepConnected(): Promise<void> {
    const stop = this.#stop.signal;
    const { minBackoffMs, maxBackoffMs } = this.options;
    let backoff = minBackoffMs;
    while (!stop.aborted) {
      this.#setState({ status: 'connecting' });
      let reason: string;
      this.#moved = false;
      const attempt = new AbortController();
      this.#attempt = attempt;
      try {
        const ws = await this.#open(AbortSignal.any([stop, attempt.signal]));
        backoff = minBackoffMs;
        reason = await this.#serve(ws);
      } catch (error) {
        reason = errorMessage(error);
      }
      this.#attempt = undefined;
      if (stop.aborted) return;
      if (this.#moved) {
        this.#moved = false;
        backoff = minBackoffMs;
        continue;
      }
      this.#setState({ status: 'offline', error: reason, retryAt: Date.now() + backoff });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      backoff = Math.min(backoff * 2, maxBackoffMs);
    }
  }

  /** The connect flow from scratch: fresh tokens each time, since old ones may have expired. */
  async #open(stop: AbortSignal): Promise<AppWebsocket> {
    const doorway = this.#doorway;
    const { deviceKey, me, agent, capSecret } = this.options;
    const signal = withTimeout(stop, this.options.connectTimeoutMs);
    const session = await openDoorwaySession(doorway, deviceKey, agent, me, capSecret, signal);
    // wsClientOptions stays unset: in a browser the WebSocket constructor takes no options.
    const ws = await withSignal(
      AppWebsocket.connect({
        url: session.appUrl,
        token: [...session.appToken],
        defaultTimeout: this.options.callTimeoutMs,
      }),
      signal,
      closeSocket,
    ).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'InvalidTokenError') {
        throw new TrustAuthError('app-interface', undefined, error.message);
      }
      throw error;
    });
    try {
      const info = await withSignal(ws.appInfo(), signal);
      if (encodeHashToBase64(info.agent_pub_key) !== me) {
        throw new TrustAuthError(
          'app-interface',
          undefined,
          `its app belongs to ${encodeHashToBase64(info.agent_pub_key)}, not to this device (${me})`,
        );
      }
      for (const role of Object.keys(info.cell_info)) {
        setSigningCredentials(ws.getCellIdFromRoleName(role, info), {
          capSecret,
          keyPair: {
            keyType: 'ed25519',
            publicKey: deviceKey.publicKey.raw,
            privateKey: deviceKey.raw,
          },
          signingKey: agent,
        });
      }
      return ws;
    } catch (error) {
      closeSocket(ws);
      throw error;
    }
  }

  /** Makes `ws` the live connection; resolves with the reason once it is gone. */
  #serve(ws: AppWebsocket): Promise<string> {
    const socket = socketOf(ws);
    if (!socket) return Promise.resolve('The app interface is not a websocket.');
    return new Promise<string>((resolve) => {
      const unsubscribe = ws.on('signal', (signal) => this.#onSignal(signal));
      const onClose = () => drop('The doorway closed the trust-layer connection.');
      const drop = (reason: string) => {
        if (this.#dropConnection !== drop) return;
        this.#dropConnection = undefined;
        this.#ws = undefined;
        unsubscribe();
        socket.removeEventListener('close', onClose);
        closeSocket(ws);
        resolve(reason);
      };
      this.#dropConnection = drop;
      socket.addEventListener('close', onClose);
      if (socket.readyState !== SOCKET_OPEN || this.closed) {
        drop('The doorway closed the trust-layer connection.');
        return;
      }
      this.#ws = ws;
      this.#setState({ status: 'connected' });
      this.onConnected();
    });
  }

  #onSignal(signal: Signal): void {
    if (signal.type !== 'app') return;
    const { zome_name, payload } = signal.value;
    const tagged =
      typeof payload === 'object' && payload !== null && 'type' in payload
        ? (payload as { type: unknown; payload?: unknown })
        : undefined;
    this.events.safeDispatchEvent('signal', {
      detail: {
        zome: zome_name,
        type: typeof tagged?.type === 'string' ? tagged.type : undefined,
        payload: tagged && 'payload' in tagged ? tagged.payload : payload,
      },
    });
  }
}
