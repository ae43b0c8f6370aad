import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DoorwayConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Route } from '../routes.ts';
import { AdminChaperone } from './admin-client.ts';
import { emulatorChaperone } from './chaperone.ts';
import { ConductorEmulator } from './conductor.ts';
import { hcHttp } from './http.ts';
import { SessionTokens, sessionIssuer } from './jwt.ts';
import { type TrustLimits, trustLimits } from './limits.ts';
import { ConductorProxy } from './proxy.ts';
import { DB_FILE, EmulatorStore } from './store.ts';

/** The doorway's trust layer: the `/hc` routes and app websocket, emulated or proxied. */
export interface TrustLayer {
  readonly mode: 'emulator' | 'proxy';
  /** `POST /hc/challenge`, `/hc/dev/token`, `/hc/connect` (and their CORS preflights). */
  readonly routes: Route[];
  /** Takes `/hc/app/{port}?token=<jwt>` upgrades; false for other paths (not ours to answer). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Drops every app websocket and closes the database. */
  close(): Promise<void>;
}

export type TrustLayerConfig = Pick<DoorwayConfig, 'dataDir' | 'hcConductor' | 'hcDevTokens'> & {
  /**
   * The conductor's admin interface (proxy mode): `/hc/connect` grants and issues app tokens
   * through it. Without it `/hc/connect` answers 501 in proxy mode.
   */
  hcAdmin?: string | undefined;
  /**
   * The doorway's libp2p PeerId: challenges name it, so a signature is good on this doorway only,
   * and session tokens name it as their issuer.
   */
  peerId: string;
  /** The doorway's own agent key (base64), which may always get a session token. */
  selfAgent?: string;
  /** Size and time limits other than the defaults (limits.ts); tests use smaller ones. */
  limits?: Partial<TrustLimits>;
};

/**
 * Starts the trust layer. With `hcConductor` set, app websockets are forwarded byte for byte to
 * that conductor; otherwise the Holochain conductor EMULATOR answers them, its state in
 * `<dataDir>/hc-emulator.sqlite`.
 */
export async function startTrustLayer(config: TrustLayerConfig, log: Logger): Promise<TrustLayer> {
  const sessions = await SessionTokens.open(config.dataDir, sessionIssuer(config.peerId));
  const limits = trustLimits(config.limits);
  const common = {
    sessions,
    devTokens: config.hcDevTokens,
    peerId: config.peerId,
    ...(config.selfAgent ? { selfAgent: config.selfAgent } : {}),
    limits,
    log,
  };
  if (config.hcConductor) {
    const proxy = new ConductorProxy(new URL(config.hcConductor), log);
    const chaperone = config.hcAdmin ? new AdminChaperone(new URL(config.hcAdmin), log) : undefined;
    const http = hcHttp({ ...common, proxy, ...(chaperone ? { chaperone } : {}) });
    log.info(
      `hc: app websockets at /hc/app/{port} forwarded to the conductor at ${proxy.target.origin}; ${chaperone ? `/hc/connect grants through its admin interface at ${chaperone.url.origin}` : '/hc/connect answers 501 (no --hc-admin)'}`,
    );
    return {
      mode: 'proxy',
      routes: http.routes,
      handleUpgrade: http.handleUpgrade,
      async close() {
        proxy.close();
        await chaperone?.close();
        await http.close();
      },
    };
  }
  const store = EmulatorStore.open(config.dataDir);
  const emulator = new ConductorEmulator(store, log, limits);
  const http = hcHttp({ ...common, emulator, chaperone: emulatorChaperone(store) });
  log.info(
    `hc: Holochain conductor EMULATOR at /hc/app/{port} (state in ${DB_FILE}; dev tokens ${config.hcDevTokens ? 'on' : 'off'})`,
  );
  return {
    mode: 'emulator',
    routes: http.routes,
    handleUpgrade: http.handleUpgrade,
    async close() {
      emulator.close();
      await http.close();
      store.close();
    },
  };
}

export {
  type ChallengeWire as Challenge,
  CONNECT_GRANT_PURPOSE,
  connectGrantText,
  DEV_TOKEN_PURPOSE,
  devTokenText,
} from '../../src/wire/index.ts';
export { DOORWAY_ADMIN_ORIGIN } from './admin-client.ts';
export { APP_TOKEN_TTL_S, EMULATOR_CONDUCTOR_ID } from './chaperone.ts';
export { agentKeyFromEd25519, hashFromB64, hashToB64 } from './hash.ts';
export { SESSION_TTL_S } from './http.ts';
export {
  type AllowedOrigins,
  type ConductorInterfaces,
  type ConductorInterfacesConfig,
  DEFAULT_ADMIN_LIMITS,
  startConductorInterfaces,
} from './interfaces.ts';
export { JWT_SECRET_FILE, sessionIssuer, TokenError } from './jwt.ts';
export { DEFAULT_LIMITS, type TrustLimits } from './limits.ts';
export { DB_FILE, DNA_HASHES, ROLES, type RoleName, StoreError } from './store.ts';
