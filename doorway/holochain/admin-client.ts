import { createHash } from 'node:crypto';
import { AdminWebsocket, type AppInfo, type CellId, type WsClientOptions } from '@holochain/client';
import { type AbortOptions, errorMessage, throwIfAborted } from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import { APP_TOKEN_TTL_S, type Chaperone, ChaperoneError, type Granted } from './chaperone.ts';
import { hashToB64 } from './hash.ts';

/**
 * The Origin the doorway's admin client sends. A conductor's admin interface lists the origins
 * it accepts; no browser can send this one (browsers send `scheme://host`), so a web page can
 * never reach an admin interface that allows only it.
 */
export const DOORWAY_ADMIN_ORIGIN = 'elohim-doorway';
/**
 * The hApp bundle `install_app` names for a new agent. The emulator carries the Elohim hApp
 * built in and does not read it; a real conductor needs the bundle at this path on its machine.
 */
export const ELOHIM_HAPP_PATH = 'elohim.happ';

export interface AdminChaperoneOptions {
  /** Time for one admin call, and for the websocket handshake. */
  timeoutMs: number;
  /** `/hc/connect` requests at the admin interface at once; more are answered 503. */
  maxPending: number;
  /** Largest admin answer accepted (a `list_apps` the doorway never sends would be the big one). */
  maxAnswerBytes: number;
}

export const DEFAULT_ADMIN_CHAPERONE: Readonly<AdminChaperoneOptions> = Object.freeze({
  timeoutMs: 10_000,
  maxPending: 32,
  maxAnswerBytes: 1024 * 1024,
});

interface SocketLike {
  close(): void;
  addEventListener(type: 'close', listener: () => void): void;
}

/** The websocket under an AdminWebsocket (the client keeps it public as `client.socket`). */
function socketOf(admin: AdminWebsocket): SocketLike {
  return (admin.client as unknown as { socket: SocketLike }).socket;
}

/**
 * `/hc/connect` in proxy mode: the Rust doorway's chaperone, through a conductor's admin
 * interface with @holochain/client's `AdminWebsocket` — `install_app` (once per agent),
 * `enable_app` (which also answers the app's cells), `grant_zome_call_capability` per cell and
 * `issue_app_authentication_token`. One admin websocket, opened on first use and again after
 * it closes.
 */
export class AdminChaperone implements Chaperone {
  #admin: Promise<AdminWebsocket> | undefined;
  #pending = 0;
  #closed = false;
  /** Names the conductor in answers without telling its address: the same for every doorway. */
  readonly conductorId: string;

  constructor(
    readonly url: URL,
    private readonly log: Logger,
    private readonly options: Readonly<AdminChaperoneOptions> = DEFAULT_ADMIN_CHAPERONE,
  ) {
    this.conductorId = `conductor-${createHash('sha256').update(url.href).digest('hex').slice(0, 16)}`;
  }

  async connect(
    agent: Uint8Array,
    signingKey: Uint8Array,
    capSecret: Uint8Array,
    { signal }: AbortOptions = {},
  ): Promise<Granted> {
    if (this.#pending >= this.options.maxPending) {
      throw new ChaperoneError(
        `${this.options.maxPending} sign-ins are waiting for the conductor: retry in a few seconds`,
        true,
      );
    }
    this.#pending += 1;
    try {
      return await this.#connect(agent, signingKey, capSecret, signal);
    } finally {
      this.#pending -= 1;
    }
  }

  async #connect(
    agent: Uint8Array,
    signingKey: Uint8Array,
    capSecret: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<Granted> {
    const admin = await this.#connection();
    const installedAppId = `elohim-${hashToB64(agent)}`;
    // Each call is bounded by the client's timeout; between calls, one who left stops the rest.
    const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      throwIfAborted(signal);
      try {
        return await run();
      } catch (error) {
        throw this.#failed(what, error);
      }
    };
    throwIfAborted(signal);
    try {
      await admin.installApp({
        source: { type: 'path', value: ELOHIM_HAPP_PATH },
        agent_key: agent,
        installed_app_id: installedAppId,
      });
      this.log.info(`hc: installed ${installedAppId} on the conductor`);
    } catch (error) {
      // Every sign-in after the first: the app is there, enable_app below finds it.
      if (!/AppAlreadyInstalled/.test(errorMessage(error)))
        throw this.#failed('install_app', error);
    }
    const app = await call('enable_app', () =>
      admin.enableApp({ installed_app_id: installedAppId }),
    );
    const cellIds = provisionedCells(app);
    for (const [role, cell] of Object.entries(cellIds)) {
      await call('grant_zome_call_capability', () =>
        admin.grantZomeCallCapability({
          cell_id: cell,
          cap_grant: {
            tag: `chaperone-${role}`,
            functions: { type: 'all' },
            access: { type: 'assigned', value: { secret: capSecret, assignees: [signingKey] } },
          },
        }),
      );
    }
    const { token } = await call('issue_app_authentication_token', () =>
      admin.issueAppAuthenticationToken({
        installed_app_id: installedAppId,
        expiry_seconds: APP_TOKEN_TTL_S,
        // Reusable until it expires, so the client's transparent reconnect works.
        single_use: false,
      }),
    );
    return {
      appToken: Uint8Array.from(token),
      installedAppId,
      conductorId: this.conductorId,
      cellIds,
    };
  }

  /** The open admin websocket, or a new one (a closed one is forgotten as it closes). */
  #connection(): Promise<AdminWebsocket> {
    if (this.#closed) return Promise.reject(new ChaperoneError('the doorway is closing'));
    if (this.#admin) return this.#admin;
    const wsClientOptions = {
      origin: DOORWAY_ADMIN_ORIGIN,
      // ws's own options, passed through by the client: a silent server or a huge answer
      // costs bounded time and memory.
      handshakeTimeout: this.options.timeoutMs,
      maxPayload: this.options.maxAnswerBytes,
    } as WsClientOptions;
    const opening = AdminWebsocket.connect({
      url: this.url,
      wsClientOptions,
      defaultTimeout: this.options.timeoutMs,
    });
    this.#admin = opening;
    opening.then(
      (admin) => {
        socketOf(admin).addEventListener('close', () => {
          if (this.#admin === opening) this.#admin = undefined;
        });
        if (this.#closed) socketOf(admin).close();
      },
      () => {
        if (this.#admin === opening) this.#admin = undefined;
      },
    );
    return opening.catch((error: unknown) => {
      this.log.error(
        `hc: the conductor's admin interface at ${this.url.origin}: ${errorMessage(error)}`,
      );
      // The answer goes to whoever signs in: it names no internal address (the log does).
      throw new ChaperoneError(
        `the conductor's admin interface does not answer: the doorway's operator should check that the conductor runs and allows the Origin "${DOORWAY_ADMIN_ORIGIN}"`,
      );
    });
  }

  /** An admin call that failed: logged with the conductor's address, answered without it. */
  #failed(what: string, error: unknown): ChaperoneError {
    this.log.error(
      `hc: ${what} at the conductor's admin interface ${this.url.origin}: ${errorMessage(error)}`,
    );
    return new ChaperoneError(
      `the conductor refused or did not answer ${what}: ${errorMessage(error)}`,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const admin = await this.#admin?.catch(() => undefined);
    if (admin) socketOf(admin).close();
  }
}

/** role → cell id of an app's provisioned cells. */
function provisionedCells(app: AppInfo): Record<string, CellId> {
  const cells: Record<string, CellId> = {};
  for (const [role, infos] of Object.entries(app.cell_info)) {
    for (const info of infos) {
      if (info.type === 'provisioned') cells[role] = info.value.cell_id;
    }
  }
  if (Object.keys(cells).length === 0) {
    throw new ChaperoneError(`the conductor's app ${app.installed_app_id} has no provisioned cell`);
  }
  return cells;
}
