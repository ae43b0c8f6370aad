import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AppWebsocket,
  type CellId,
  dhtLocationFrom32,
  encodeHashToBase64,
  setSigningCredentials,
} from '@holochain/client';
import { encode } from '@msgpack/msgpack';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createLogger } from '../log.ts';
import { dispatch, sendJson } from '../routes.ts';
import { DEV_TOKEN_CHALLENGE } from './http.ts';
import { startTrustLayer, type TrustLayer, type TrustLayerConfig } from './index.ts';

/** A doorway-like HTTP server carrying only the trust layer, on 127.0.0.1 and a free port. */
export async function startTrustServer(
  config: TrustLayerConfig,
): Promise<{ url: string; port: number; trust: TrustLayer; close(): Promise<void> }> {
  const trust = await startTrustLayer(config, createLogger('silent'));
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
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

/** `POST /hc/dev/token`, signed as a browser would with its device key. */
export async function devToken(baseUrl: string, key: TestKey): Promise<string> {
  const timestamp = Date.now();
  const signature = ed25519.sign(
    new TextEncoder().encode(`${DEV_TOKEN_CHALLENGE}${timestamp}`),
    key.seed,
  );
  const { status, body } = await postJson(`${baseUrl}/hc/dev/token`, {
    agentPubKey: encodeHashToBase64(key.agent),
    timestamp,
    signature: Buffer.from(signature).toString('base64'),
  });
  if (status !== 200) throw new Error(`dev token: ${status} ${JSON.stringify(body)}`);
  return body.token as string;
}

export interface Connection {
  appToken: number[];
  appPort: number;
  agent: Uint8Array;
  installedAppId: string;
  cellIds: Record<string, CellId>;
  token: string;
}

/** `POST /hc/connect` for a signing key and secret; cell ids decoded from base64. */
export async function hcConnect(
  baseUrl: string,
  jwt: string,
  signingKey: Uint8Array,
  capSecret: Uint8Array,
): Promise<Connection> {
  const { status, body } = await postJson(
    `${baseUrl}/hc/connect`,
    {
      signingKey: Buffer.from(signingKey).toString('base64'),
      capSecret: Buffer.from(capSecret).toString('base64'),
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
      keyPair: { publicKey: key.publicKey, privateKey: key.privateKey },
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
