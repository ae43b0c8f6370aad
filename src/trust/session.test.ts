import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeHashFromBase64 } from '@holochain/client';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519 } from '../reach/index.ts';
import { TrustAuthError } from './errors.ts';
import { openDoorwaySession } from './session.ts';
import { sharedTestDoorway } from './test-support.ts';

/** A doorway that forwards every request to `target` as it came, and notes each path. */
async function startRelay(
  target: string,
): Promise<{ url: string; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer(async (req, res) => {
    paths.push(req.url ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = await fetch(new URL(req.url ?? '/', target), {
      method: req.method,
      headers: {
        'Content-Type': 'application/json',
        ...(req.headers.authorization ? { Authorization: req.headers.authorization } : {}),
      },
      body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(answer.status, { 'Content-Type': 'application/json' });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server };
}

describe('openDoorwaySession', () => {
  const doorway = sharedTestDoorway('trust-session-');

  async function device() {
    const key = await generateKeyPair('Ed25519');
    const agentText = agentKeyFromEd25519(key.publicKey.raw);
    return { key, agentText, agent: decodeHashFromBase64(agentText) };
  }
  const capSecret = () => crypto.getRandomValues(new Uint8Array(64));
  /** A new device opens a session on the doorway at `url`. */
  async function openAs(url: string) {
    const { key, agent, agentText } = await device();
    return openDoorwaySession(url, key, agent, agentText, capSecret(), AbortSignal.timeout(10_000));
  }

  it("signs the doorway's challenge and gets an app interface on the doorway's origin", async () => {
    const session = await openAs(doorway().url);
    expect(session.appUrl.origin).toBe(doorway().url.replace('http:', 'ws:'));
    expect(session.appToken).toHaveLength(32);
  });

  it('refuses to sign a challenge naming another origin, and asks for no session', async () => {
    const relay = await startRelay(doorway().url);
    try {
      const error = await openAs(relay.url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrustAuthError);
      expect((error as Error).message).toContain(`names ${doorway().url}, not ${relay.url}`);
      expect(relay.paths).not.toContain('/hc/dev/token');
    } finally {
      await new Promise<void>((resolve) => relay.server.close(() => resolve()));
    }
  });
});
