import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AppSignal,
  AppWebsocket,
  type CellId,
  dhtLocationFrom32,
  encodeHashToBase64,
  type Signal,
  setSigningCredentials,
} from '@holochain/client';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { encode } from '@msgpack/msgpack';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { WebSocket } from 'ws';
import { loadOrCreateKey } from '../../src/identity/node.ts';
import {
  type ChallengeWire as Challenge,
  connectGrantText,
  devTokenText,
} from '../../src/wire/index.ts';
import { createLogger } from '../log.ts';
import { dispatch, sendJson } from '../routes.ts';
import { sharedTempDir } from '../test-support.ts';
import { sha256Base64url } from './challenge.ts';
import {
  type ConductorInterfaces,
  type ConductorInterfacesConfig,
  DOORWAY_ADMIN_ORIGIN,
  startConductorInterfaces,
  startTrustLayer,
  type TrustLayer,
  type TrustLayerConfig,
} from './index.ts';
import type { EmulatorStore } from './store.ts';
import type { ZomeContext } from './zome-context.ts';

export interface TrustServer {
  url: string;
  port: number;
  /** The doorway's PeerId, from `<dataDir>/peer-key.pb` as a real doorway's. */
  peerId: string;
  trust: TrustLayer;
  close(): Promise<void>;
}

/**
 * A doorway-like HTTP server carrying only the trust layer, on 127.0.0.1 and `port` (0: a free
 * one). Its PeerId comes from the data dir's key, as a doorway's does, so a restart keeps it.
 */
export async function startTrustServer(
  config: Omit<TrustLayerConfig, 'peerId'>,
  port = 0,
): Promise<TrustServer> {
  const { key } = await loadOrCreateKey(config.dataDir);
  const peerId = peerIdFromPrivateKey(key).toString();
  const trust = await startTrustLayer({ ...config, peerId }, createLogger('silent'));
  const server = createServer((req, res) => {
    dispatch(trust.routes, req, res)
      .then((handled) => {
        if (!handled) sendJson(res, 404, { error: 'not found' });
      })
      .catch(() => res.destroy());
  });
  server.on('upgrade', (req, socket, head) => {
    if (!trust.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    peerId,
    trust,
    async close() {
      await trust.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The emulator as `npm run conductor` runs it, in process: admin and app interfaces on free
 * loopback ports, the admin interface open to the doorway's Origin, the app interface to any.
 */
export function startTestConductor(
  dataDir: string,
  overrides: Partial<ConductorInterfacesConfig> = {},
): Promise<ConductorInterfaces> {
  return startConductorInterfaces(
    {
      host: '127.0.0.1',
      adminPort: 0,
      appPort: 0,
      dataDir,
      adminOrigins: [DOORWAY_ADMIN_ORIGIN],
      appOrigins: '*',
      ...overrides,
    },
    createLogger('silent'),
  );
}

/**
 * A trust server with dev tokens on a temporary data dir (named after `prefix`) for the tests of
 * the file or describe block this is called in: started before all of them; stopped, and its dir
 * removed, after all of them. The getter gives it, and its data dir, to the tests.
 */
export function sharedTrustServer(prefix: string): () => TrustServer & { dataDir: string } {
  const dir = sharedTempDir(prefix);
  let server: (TrustServer & { dataDir: string }) | undefined;
  beforeAll(async () => {
    const dataDir = dir();
    const started = await startTrustServer({ dataDir, hcConductor: undefined, hcDevTokens: true });
    server = Object.assign(started, { dataDir });
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('the trust server starts in beforeAll: read it in a test or hook');
    return server;
  };
}

/**
 * Agents signed in to `server()`, each made by the function returned, all closed after the
 * suite (call it in a `describe`, beside {@link sharedTrustServer}).
 */
export function suiteAgents(
  server: () => { url: string },
): () => Promise<Awaited<ReturnType<typeof connectAgent>>> {
  const agents: Awaited<ReturnType<typeof connectAgent>>[] = [];
  afterAll(async () => {
    for (const agent of agents) await agent.close();
  });
  return async () => {
    const agent = await connectAgent(server().url);
    agents.push(agent);
    return agent;
  };
}

/** An Ed25519 key pair in the shapes the client wants: agent-shaped key, libsodium secret key. */
export interface TestKey {
  seed: Uint8Array;
  publicKey: Uint8Array;
  /** 84 20 24 + key + location: the key as a HoloHash agent key. */
  agent: Uint8Array;
  /** libsodium's 64-byte secret key (seed ‖ public key), as `setSigningCredentials` takes it. */
  privateKey: Uint8Array;
}

export function newKey(seed: Uint8Array = new Uint8Array(randomBytes(32))): TestKey {
  const publicKey = ed25519.getPublicKey(seed);
  const agent = new Uint8Array([0x84, 0x20, 0x24, ...publicKey, ...dhtLocationFrom32(publicKey)]);
  const privateKey = new Uint8Array([...seed, ...publicKey]);
  return { seed, publicKey, agent, privateKey };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** `POST /hc/challenge`: a challenge to sign, good for one request on that doorway. */
export async function challengeOf(baseUrl: string): Promise<Challenge> {
  const { status, body } = await postJson(`${baseUrl}/hc/challenge`, {});
  if (status !== 200) throw new Error(`challenge: ${status} ${JSON.stringify(body)}`);
  return body as unknown as Challenge;
}

const sign = (text: string, key: TestKey) =>
  Buffer.from(ed25519.sign(new TextEncoder().encode(text), key.seed)).toString('base64');

/** A `POST /hc/dev/token` body for `key`, signed over `challenge` as a browser does. */
export function devTokenRequest(challenge: Challenge, key: TestKey) {
  const agentPubKey = encodeHashToBase64(key.agent);
  return {
    agentPubKey,
    nonce: challenge.nonce,
    signature: sign(devTokenText(challenge, agentPubKey), key),
  };
}

/** `POST /hc/dev/token` for a fresh challenge, signed as a browser would with its device key. */
export async function devToken(baseUrl: string, key: TestKey): Promise<string> {
  const request = devTokenRequest(await challengeOf(baseUrl), key);
  const { status, body } = await postJson(`${baseUrl}/hc/dev/token`, request);
  if (status !== 200) throw new Error(`dev token: ${status} ${JSON.stringify(body)}`);
  return body.token as string;
}

/** The `grant` of a /hc/connect body: `agent` lets `signingKey` use `capSecret` on its cells. */
export function connectGrant(
  challenge: Challenge,
  agent: TestKey,
  signingKey: Uint8Array,
  capSecret: Uint8Array,
) {
  const text = connectGrantText(
    challenge,
    encodeHashToBase64(agent.agent),
    encodeHashToBase64(signingKey),
    sha256Base64url(capSecret),
  );
  return { nonce: challenge.nonce, signature: sign(text, agent) };
}

export interface Connection {
  appToken: number[];
  appPort: number;
  agent: Uint8Array;
  installedAppId: string;
  cellIds: Record<string, CellId>;
  token: string;
}

/**
 * `POST /hc/connect` for a signing key and secret; cell ids decoded from base64. A key other
 * than the session's agent needs `grantedBy`, the agent's key, to sign the grant.
 */
export async function hcConnect(
  baseUrl: string,
  jwt: string,
  signingKey: Uint8Array,
  capSecret: Uint8Array,
  grantedBy?: TestKey,
): Promise<Connection> {
  const grant =
    grantedBy && connectGrant(await challengeOf(baseUrl), grantedBy, signingKey, capSecret);
  const { status, body } = await postJson(
    `${baseUrl}/hc/connect`,
    {
      signingKey: Buffer.from(signingKey).toString('base64'),
      capSecret: Buffer.from(capSecret).toString('base64'),
      ...(grant ? { grant } : {}),
    },
    { Authorization: `Bearer ${jwt}` },
  );
  if (status !== 200) throw new Error(`hc connect: ${status} ${JSON.stringify(body)}`);
  const bytes = (b64: unknown) => new Uint8Array(Buffer.from(b64 as string, 'base64'));
  return {
    appToken: [...bytes(body.appToken)],
    appPort: body.appPort as number,
    agent: bytes(body.agentPubKey),
    installedAppId: body.installedAppId as string,
    cellIds: Object.fromEntries(
      Object.entries(body.cellIds as Record<string, [string, string]>).map(
        ([role, [dna, agent]]) => [role, [bytes(dna), bytes(agent)] as CellId],
      ),
    ),
    token: body.token as string,
  };
}

/** Registers signing credentials for every cell of the app, as a browser does after connect. */
export function authorizeCells(cells: Iterable<CellId>, key: TestKey, capSecret: Uint8Array): void {
  for (const cellId of cells) {
    setSigningCredentials(cellId, {
      capSecret,
      keyPair: { keyType: 'ed25519', publicKey: key.publicKey, privateKey: key.privateKey },
      signingKey: key.agent,
    });
  }
}

export interface RawCall {
  cell_id: CellId;
  zome_name: string;
  fn_name: string;
  payload?: unknown;
  cap_secret?: Uint8Array | null;
  nonce?: Uint8Array;
  expires_at?: number;
  /** Fields added after the real ones (a conductor ignores fields it does not know). */
  extra?: Record<string, unknown>;
}

/**
 * A signed call built by hand, mirroring the client's `signZomeCall`: MessagePack of the params
 * (same field order), Ed25519 over sha512 of those bytes. For forging and replaying.
 */
export function signCall(call: RawCall, signer: TestKey, provenance = signer.agent) {
  const params = {
    cap_secret: call.cap_secret ?? null,
    cell_id: call.cell_id,
    zome_name: call.zome_name,
    fn_name: call.fn_name,
    provenance,
    payload: encode(call.payload),
    nonce: call.nonce ?? new Uint8Array(randomBytes(32)),
    expires_at: call.expires_at ?? (Date.now() + 5 * 60 * 1000) * 1000,
    ...call.extra,
  };
  const bytes = encode(params);
  const digest = createHash('sha512').update(bytes).digest();
  return { bytes, signature: ed25519.sign(digest, signer.seed) };
}

/** Sends a pre-signed call through the real client (its error parsing included). */
export function sendSigned(
  ws: AppWebsocket,
  cellId: CellId,
  signed: { bytes: Uint8Array; signature: Uint8Array },
): Promise<unknown> {
  // The client passes a request that already has a signature through unchanged.
  return ws.callZome({ cell_id: cellId, ...signed } as never);
}

/** The upgrade answer (status) when the doorway refuses a websocket. */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => {});
  });
}

/**
 * Opens a raw websocket and collects every message it receives, byte for byte. `closed`
 * resolves with the close code (1006 when the doorway cut the connection without one).
 */
export async function rawSocket(url: string) {
  const ws = new WebSocket(url);
  const received: Buffer[] = [];
  ws.on('message', (data) => received.push(Buffer.from(data as Buffer)));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // Once open, errors (a write to a socket the doorway cut) end in `closed`.
  ws.on('error', () => {});
  return { ws, received, closed };
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A new agent as the browser connects it: a dev token, /hc/connect with its own key, the app
 * websocket, signing credentials on every cell. `received` collects its app signals.
 */
export async function connectAgent(baseUrl: string) {
  const key = newKey();
  const secret = new Uint8Array(randomBytes(64));
  const conn = await hcConnect(baseUrl, await devToken(baseUrl, key), key.agent, secret);
  authorizeCells(Object.values(conn.cellIds), key, secret);
  const ws = await AppWebsocket.connect({
    url: new URL(`ws://127.0.0.1:${conn.appPort}/hc/app/${conn.appPort}?token=${conn.token}`),
    token: conn.appToken,
  });
  const received: AppSignal[] = [];
  ws.on('signal', (signal: Signal) => {
    if (signal.type === 'app') received.push(signal.value);
  });
  return {
    key,
    agent: key.agent,
    conn,
    ws,
    received,
    call: <T>(role: 'infrastructure' | 'imagodei', fn: string, payload?: unknown) =>
      ws.callZome<T>({ role_name: role, zome_name: role, fn_name: fn, payload }),
    async close() {
      await (ws.client as unknown as { close(): Promise<unknown> }).close();
    },
  };
}

/**
 * Checks that an app interface refuses a made-up app token: it closes the socket after the
 * `authenticate` message, and `AppWebsocket.connect` rejects. @holochain/client gives the close
 * only 10 ms to arrive before it goes on with `app_info`, so on a loaded machine the same
 * refusal may surface as a socket closed under that request: the close itself is checked on a
 * raw socket, and the client must refuse with one of the names a closed socket gives.
 */
export async function expectTokenRefused(url: string | URL): Promise<void> {
  const raw = await rawSocket(String(url));
  raw.ws.send(encode({ type: 'authenticate', data: encode({ token: [...randomBytes(32)] }) }));
  expect(await within(raw.closed, 10_000, 'closing after a bad token')).toBeGreaterThanOrEqual(
    1000,
  );
  const error = await AppWebsocket.connect({ url: new URL(url), token: [...randomBytes(32)] }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.name).toMatch(
    /^(InvalidTokenError|ClientClosedWithPendingRequests|ConnectionError|WebsocketClosedError)$/,
  );
}

/**
 * What a zome function is called with, for storage tests that call one directly (no socket):
 * `cell`'s agent made the call; signals go nowhere.
 */
export function zomeContext(store: EmulatorStore, cell: CellId): ZomeContext {
  return {
    store,
    cell,
    evidence: { provenance: cell[1], digest: new Uint8Array(64), signature: new Uint8Array(64) },
    emitSignal: () => {},
    sendRemoteSignal: () => {},
  };
}

/** The message of the zome error (`ribosome_error`) `promise` fails with; fails the test if it does not. */
export async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error, 'expected a refusal').toBeInstanceOf(Error);
  expect(error?.name).toBe('ribosome_error');
  return (error as Error).message;
}
