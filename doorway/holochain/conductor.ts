import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.ts';
import { verifyEd25519 } from './ed25519.ts';
import { ed25519OfAgent, hashToB64 } from './hash.ts';
import type { TrustLimits } from './limits.ts';
import { decodeChecked } from './msgpack.ts';
import { type AppRecord, DNA_HASHES, type EmulatorStore, ROLES, roleOfDna } from './store.ts';
import {
  answerRequest,
  appSignalMessage,
  type CellId,
  ConductorError,
  decodeZomeCallParams,
  type Envelope,
  EnvelopeError,
  readAuthToken,
  readEnvelope,
  readSignedCall,
  responseMessage,
  wireError,
  ZomeError,
} from './wire.ts';
import { ZOMES, type ZomeContext } from './zomes.ts';

/** Close codes the emulator uses when it drops a socket (the client sees only "closed"). */
export const CLOSE_NOT_HOLOCHAIN = 1003;
export const CLOSE_UNAUTHENTICATED = 1008;
export const CLOSE_TOO_BIG = 1009;

/** A websocket close reason holds at most 123 bytes of UTF-8. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123
    ? text
    : `${bytes
        .subarray(0, 120)
        .toString()
        .replace(/\uFFFD$/, '')}…`;
}

/** AppRequest variants a real conductor knows but the emulator does not carry out. */
const UNSUPPORTED_REQUESTS = new Set([
  'agent_info',
  'peer_meta_info',
  'provide_memproofs',
  'enable_app',
  'create_clone_cell',
  'disable_clone_cell',
  'enable_clone_cell',
  'dump_network_stats',
  'dump_network_metrics',
  'dump_op_timings',
  'list_wasm_host_functions',
  'get_countersigning_session_state',
  'abandon_countersigning_session',
  'publish_countersigning_session',
  'send_direct_signal',
  'call_zome_with_deadline',
]);

interface Session {
  ws: WebSocket;
  app?: AppRecord;
  /** Ends the pre-authentication limits (byte count, timer, place among the waiting). */
  endPreAuth?: () => void;
}

/**
 * The Holochain conductor EMULATOR: one app interface, served over websockets the doorway
 * accepts, answering `app_info` and `call_zome` as a conductor does (see README.md).
 */
export class ConductorEmulator {
  /** Open, authenticated sockets per installed app id: where that app's signals go. */
  private readonly sessions = new Map<string, Set<Session>>();
  private readonly all = new Set<Session>();
  /** Sockets that have not authenticated yet (bounded by `limits.maxUnauthenticated`). */
  private readonly waiting = new Set<Session>();

  constructor(
    readonly store: EmulatorStore,
    private readonly log: Logger,
    private readonly limits: Readonly<TrustLimits>,
  ) {}

  /** Whether another unauthenticated socket may be accepted now. */
  get acceptsMore(): boolean {
    return this.waiting.size < this.limits.maxUnauthenticated;
  }

  /**
   * Serves an app websocket (`socket` is its TCP stream). The first message must authenticate
   * with an app token; when `agentB64` is given (the doorway session's agent), the token must
   * open that agent's app. A bad token closes the socket, as the conductor does. Until it
   * authenticates a socket may send `limits.preAuthBytes` (counted on the TCP stream as bytes
   * arrive, before `ws` could buffer a large frame whole) and has `limits.authTimeoutMs`.
   */
  serve(ws: WebSocket, socket: Duplex, agentB64: string | undefined): void {
    const session: Session = { ws };
    this.all.add(session);
    this.waiting.add(session);
    let received = 0;
    const countBytes = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= this.limits.preAuthBytes) return;
      this.log.debug(
        `hc emulator: cut a socket that sent ${received} bytes without authenticating`,
      );
      ws.close(
        CLOSE_TOO_BIG,
        `authenticate first: at most ${this.limits.preAuthBytes} bytes before authenticating`,
      );
      ws.terminate();
    };
    const timer = setTimeout(() => {
      this.log.debug('hc emulator: closed a socket that did not authenticate in time');
      ws.close(
        CLOSE_UNAUTHENTICATED,
        `authenticate within ${this.limits.authTimeoutMs / 1000} s of opening the socket`,
      );
    }, this.limits.authTimeoutMs);
    session.endPreAuth = () => {
      socket.off('data', countBytes);
      clearTimeout(timer);
      this.waiting.delete(session);
    };
    // Before ws's own listener, so a chunk is counted before ws parses it into a message.
    socket.prependListener('data', countBytes);
    ws.on('message', (data) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      this.receive(session, bytes, agentB64);
    });
    ws.on('close', () => {
      session.endPreAuth?.();
      this.all.delete(session);
      if (session.app) this.sessions.get(session.app.installedAppId)?.delete(session);
    });
    ws.on('error', (error) => this.log.debug(`hc emulator: socket error: ${error.message}`));
  }

  private receive(session: Session, bytes: Uint8Array, agentB64: string | undefined): void {
    // A socket we are closing (too many bytes, too late, bad token) is heard no more.
    if (session.ws.readyState !== 1) return;
    let envelope: Envelope;
    try {
      envelope = readEnvelope(bytes, this.limits.maxDepth);
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      session.ws.close(CLOSE_NOT_HOLOCHAIN, closeReason(error.message));
      return;
    }
    if (!session.app) {
      if (envelope.type !== 'authenticate') {
        session.ws.close(CLOSE_UNAUTHENTICATED, 'authenticate first');
        return;
      }
      const token = readAuthToken(envelope.data, this.limits.maxDepth);
      const app = token && this.store.appOfToken(token);
      if (!app || (agentB64 !== undefined && hashToB64(app.agent) !== agentB64)) {
        this.log.debug('hc emulator: refused an app token (unknown, expired or another agent’s)');
        session.ws.close(CLOSE_UNAUTHENTICATED, 'invalid app authentication token');
        return;
      }
      session.app = app;
      session.endPreAuth?.();
      const set = this.sessions.get(app.installedAppId) ?? new Set<Session>();
      this.sessions.set(app.installedAppId, set);
      set.add(session);
      return;
    }
    // Holochain ignores signals from clients and a second authenticate.
    if (envelope.type !== 'request') return;
    const response = this.request(session.app, envelope.data);
    if (session.ws.readyState === 1) session.ws.send(responseMessage(envelope.id, response));
  }

  /** Answers one AppRequest with an AppResponse (errors included). */
  private request(app: AppRecord, data: Uint8Array): unknown {
    return answerRequest(data, 'AppRequest', this.limits.maxDepth, this.log, (type, value) => {
      switch (type) {
        case 'app_info':
          return { type: 'app_info', value: this.appInfo(app) };
        case 'call_zome':
          return { type: 'zome_called', value: this.callZome(value) };
        default:
          if (UNSUPPORTED_REQUESTS.has(type)) {
            return wireError(
              'internal_error',
              `${type} is not available on the Elohim conductor emulator (it serves app_info and call_zome); point the doorway at a real conductor (--hc-conductor) for it`,
            );
          }
          return wireError('deserialization', `unknown variant \`${type}\` of AppRequest`);
      }
    });
  }

  appInfo(app: AppRecord) {
    return {
      agent_pub_key: app.agent,
      installed_app_id: app.installedAppId,
      cell_info: Object.fromEntries(
        ROLES.map((role) => [
          role,
          [
            {
              type: 'provisioned',
              value: {
                cell_id: [DNA_HASHES[role], app.agent],
                dna_modifiers: { network_seed: '', properties: encode(null) },
                name: role,
              },
            },
          ],
        ]),
      ),
      status: { type: 'enabled' },
      installed_at: app.installedAt,
    };
  }

  /**
   * `call_zome`, checked in the conductor's order: decode the signed bytes, verify the
   * signature over sha512 of the bytes as received, find the cell and zome, witness the nonce
   * (expiry, replay), check the capability grant, then run the function in one transaction.
   * Returns the function's result as MessagePack bytes.
   */
  private callZome(value: unknown): Uint8Array {
    const { bytes, signature } = readSignedCall(value);
    const params = decodeZomeCallParams(bytes, this.limits.maxDepth);
    const digest = new Uint8Array(createHash('sha512').update(bytes).digest());
    const provenanceB64 = hashToB64(params.provenance);
    if (!verifyEd25519(signature, digest, ed25519OfAgent(params.provenance))) {
      throw new ConductorError(
        'zome_call_authentication_failed',
        `Authentication failure. Bad signature Signature(${Buffer.from(signature.subarray(0, 8)).toString('hex')}…) by provenance ${provenanceB64}.`,
      );
    }
    const cell: CellId = params.cell_id;
    const role = roleOfDna(cell[0]);
    if (!role || !this.store.appOfAgent(cell[1])) {
      throw new ConductorError(
        'internal_error',
        `CellMissing: cell [${hashToB64(cell[0])}, ${hashToB64(cell[1])}] is not installed on this conductor (emulator); use the cell ids from app_info`,
      );
    }
    const zomes = ZOMES.get(role);
    const zome = zomes?.get(params.zome_name);
    if (!zome) {
      throw new ZomeError(
        `ZomeNotFound: Zome '${params.zome_name.slice(0, 80)}' not found in the ${role} DNA (zomes: ${[...(zomes?.keys() ?? [])].join(', ') || 'none'})`,
      );
    }
    const unauthorized = (reason: string) =>
      new ConductorError(
        'zome_call_unauthorized',
        `Call was not authorized with reason ${reason}, cap secret ${params.cap_secret ? 'Some(..)' : 'None'} to call the function ${params.fn_name} in zome ${params.zome_name}`,
      );
    const nonce = this.store.witnessNonce(params.provenance, params.nonce, params.expires_at);
    if (nonce !== 'Fresh') throw unauthorized(`BadNonce("${nonce}")`);
    if (!this.store.isAuthorized(cell, params.provenance, params.cap_secret)) {
      throw unauthorized('BadCapGrant');
    }
    const fn = zome.get(params.fn_name);
    if (!fn) {
      throw new ZomeError(
        `Attempted to call a zome function that doesn't exist: Zome: ${params.zome_name} Fn ${params.fn_name.slice(0, 80)}`,
      );
    }
    let payload: unknown;
    try {
      payload = decodeChecked(params.payload, this.limits.maxDepth);
    } catch (error) {
      throw new ZomeError(
        `Wasm error while working with Ribosome: Deserialize("payload is not MessagePack the emulator takes: ${(error as Error).message}")`,
      );
    }

    const signals: unknown[] = [];
    const remote: { agent: Uint8Array; signal: unknown }[] = [];
    const ctx: ZomeContext = {
      store: this.store,
      cell,
      evidence: { provenance: params.provenance, digest, signature },
      emitSignal: (signal) => signals.push(signal),
      sendRemoteSignal: (agent, signal) => remote.push({ agent, signal }),
    };
    const result = this.store.db.transaction(() => fn(ctx, payload))();
    this.log.debug(
      `hc emulator: ${role}/${params.zome_name}/${params.fn_name} by ${provenanceB64} on ${hashToB64(cell[1])}`,
    );
    // Only after the commit: a refused call emits nothing.
    for (const signal of signals) this.emitAppSignal(cell, params.zome_name, signal);
    // The recipient's recv_remote_signal emits it to its own app, from its own cell.
    for (const { agent, signal } of remote) {
      this.emitAppSignal([cell[0], agent], params.zome_name, signal);
    }
    return encode(result);
  }

  /** An app signal from `cell` to the sockets of the cell agent's app (Holochain's emit_signal). */
  emitAppSignal(cell: CellId, zomeName: string, payload: unknown): void {
    const app = this.store.appOfAgent(cell[1]);
    const sessions = app && this.sessions.get(app.installedAppId);
    if (!sessions?.size) return;
    const message = appSignalMessage(cell, zomeName, payload);
    for (const { ws } of sessions) if (ws.readyState === 1) ws.send(message);
  }

  /** Drops every socket (the doorway is closing). */
  close(): void {
    for (const { ws } of this.all) ws.terminate();
    this.all.clear();
    this.sessions.clear();
  }
}
