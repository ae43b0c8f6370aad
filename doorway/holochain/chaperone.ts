import { type AbortOptions, ElohimError } from '../../src/wire/index.ts';
import { DNA_HASHES, type EmulatorStore, ROLES } from './store.ts';
import type { CellId } from './wire.ts';

/** Lifetime of an app websocket token from /hc/connect (as the Rust doorway issues them). */
export const APP_TOKEN_TTL_S = 3600;
/** What /hc/connect calls the conductor that answers (the Rust doorway names its pool's). */
export const EMULATOR_CONDUCTOR_ID = 'emulator';

/** What the conductor granted an agent, for `/hc/connect`'s answer. */
export interface Granted {
  appToken: Uint8Array;
  installedAppId: string;
  conductorId: string;
  /** role → cell id. */
  cellIds: Record<string, CellId>;
}

/**
 * The conductor side of `/hc/connect` (the Rust doorway's "chaperone"): install the agent's app
 * if new, grant `signingKey` an assigned capability with `capSecret` on every cell, and issue an
 * app token good for {@link APP_TOKEN_TTL_S}. Who may ask is decided before (http.ts). The
 * signal (the asker went away) stops it between steps.
 */
export interface Chaperone {
  connect(
    agent: Uint8Array,
    signingKey: Uint8Array,
    capSecret: Uint8Array,
    options?: AbortOptions,
  ): Promise<Granted>;
  close(): Promise<void>;
}

/** The conductor could not do its part: HTTP 502 (or 503 when `busy`), its message says why. */
export class ChaperoneError extends ElohimError.named('ChaperoneError') {
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

/** The in-process emulator's chaperone: straight into its store, no admin interface between. */
export function emulatorChaperone(store: EmulatorStore): Chaperone {
  return {
    async connect(agent, signingKey, capSecret) {
      const app = store.installApp(agent);
      const cellIds: Record<string, CellId> = {};
      for (const role of ROLES) {
        const cell: CellId = [DNA_HASHES[role], agent];
        store.grantAssigned(cell, signingKey, capSecret, `chaperone-${role}`);
        cellIds[role] = cell;
      }
      return {
        appToken: store.issueAppToken(app.installedAppId, APP_TOKEN_TTL_S),
        installedAppId: app.installedAppId,
        conductorId: EMULATOR_CONDUCTOR_ID,
        cellIds,
      };
    },
    async close() {},
  };
}
