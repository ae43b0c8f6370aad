/**
 * Sessions and grants: a dev-token signature is good for one request on the doorway that
 * issued its challenge, and a session for agent X lets no other key act on X's cells unless X
 * signed for it. The attack these replay: one signed body used three times on two doorways,
 * then `/hc/connect` granting the attacker's key on the victim's cells, then the attacker
 * writing itself into the victim's family.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppWebsocket, type CellId, encodeHashToBase64 } from '@holochain/client';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { devTokenText } from '../../src/wire/index.ts';
import {
  challengeOf,
  connectGrant,
  devToken,
  devTokenRequest,
  hcConnect,
  newKey,
  postJson,
  sendSigned,
  signCall,
  startTrustServer,
  type TestKey,
  type TrustServer,
} from './test-support.ts';

describe('dev-token challenges and /hc/connect grants', () => {
  let dir: string;
  let a: TrustServer;
  let b: TrustServer;

  const start = (name: string, limits = {}) =>
    startTrustServer({
      dataDir: join(dir, name),
      hcConductor: undefined,
      hcDevTokens: true,
      limits,
    });
  const tokenAt = (server: TrustServer, body: unknown) =>
    postJson(`${server.url}/hc/dev/token`, body);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-challenge-'));
    a = await start('a');
    b = await start('b');
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the doorway: its PeerId and the origin it was asked at, with a fresh nonce', async () => {
    const first = await challengeOf(a.url);
    const second = await challengeOf(a.url);
    expect(first).toMatchObject({ doorway: a.peerId, origin: a.url });
    expect(first.doorway).toMatch(/^12D3KooW/);
    expect(first.nonce).toMatch(/^[\w-]{43}$/);
    expect(second.nonce).not.toBe(first.nonce);
    expect(first.expiresAt).toBeGreaterThan(Date.now());
    expect((await challengeOf(b.url)).doorway).not.toBe(a.peerId);
  });

  it('accepts a signed body once: its replay is refused there and on another doorway', async () => {
    const body = devTokenRequest(await challengeOf(a.url), newKey());
    expect((await tokenAt(a, body)).status).toBe(200);
    for (const server of [a, a, b]) {
      const replay = await tokenAt(server, body);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toMatch(/unknown here or already used/);
    }
  });

  it('refuses the old timestamp-signed body, which any doorway took for 5 minutes', async () => {
    const key = newKey();
    const timestamp = Date.now();
    const legacy = {
      agentPubKey: encodeHashToBase64(key.agent),
      timestamp,
      signature: Buffer.from(
        ed25519.sign(new TextEncoder().encode(`elohim-doorway-dev-token:${timestamp}`), key.seed),
      ).toString('base64'),
    };
    // The probe's replay: one body, three times, on two doorways.
    for (const server of [a, a, b]) {
      const answer = await tokenAt(server, legacy);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/POST \/hc\/challenge/);
    }
  });

  it('refuses at doorway B a signature naming doorway A, even over B’s own nonce', async () => {
    const key = newKey();
    const atB = await challengeOf(b.url);
    const forA = { ...atB, doorway: a.peerId, origin: a.url };
    const agentPubKey = encodeHashToBase64(key.agent);
    const signature = ed25519.sign(
      new TextEncoder().encode(devTokenText(forA, agentPubKey)),
      key.seed,
    );
    const answer = await tokenAt(b, {
      agentPubKey,
      nonce: atB.nonce,
      signature: Buffer.from(signature).toString('base64'),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatch(/does not verify/);
  });

  it('refuses an unknown nonce, an expired one, and one asked for at another origin', async () => {
    const unknown = { ...devTokenRequest(await challengeOf(a.url), newKey()) };
    unknown.nonce = randomBytes(32).toString('base64url');
    expect(await tokenAt(a, unknown)).toMatchObject({
      status: 401,
      body: { error: expect.stringMatching(/unknown here/) },
    });

    const brief = await start('brief', { challengeTtlMs: 20 });
    try {
      const challenge = await challengeOf(brief.url);
      await expect.poll(() => Date.now() > challenge.expiresAt).toBe(true);
      expect(await tokenAt(brief, devTokenRequest(challenge, newKey()))).toMatchObject({
        status: 401,
        body: { error: expect.stringMatching(/expired/) },
      });
    } finally {
      await brief.close();
    }

    // Asked through a host that is not this one (a reverse proxy naming another site).
    const response = await fetch(`${a.url}/hc/challenge`, {
      method: 'POST',
      headers: { 'X-Forwarded-Host': 'elsewhere.example' },
    });
    const elsewhere = await response.json();
    expect(elsewhere.origin).toBe('http://elsewhere.example');
    expect(await tokenAt(a, devTokenRequest(elsewhere, newKey()))).toMatchObject({
      status: 401,
      body: { error: expect.stringMatching(/issued for http:\/\/elsewhere\.example/) },
    });
  });

  it('keeps at most maxChallenges: asking for more forgets the oldest', async () => {
    const small = await start('small', { maxChallenges: 4 });
    try {
      const oldest = await challengeOf(small.url);
      const rest = [];
      for (let i = 0; i < 4; i++) rest.push(await challengeOf(small.url));
      expect((await tokenAt(small, devTokenRequest(oldest, newKey()))).status).toBe(401);
      for (const challenge of rest) {
        expect((await tokenAt(small, devTokenRequest(challenge, newKey()))).status).toBe(200);
      }
    } finally {
      await small.close();
    }
  });

  describe("a session for agent X and another key on X's cells", () => {
    const secret = () => new Uint8Array(randomBytes(64));
    const connectBody = (signingKey: Uint8Array, capSecret: Uint8Array, grant?: unknown) => ({
      signingKey: Buffer.from(signingKey).toString('base64'),
      capSecret: Buffer.from(capSecret).toString('base64'),
      ...(grant ? { grant } : {}),
    });
    const connectAt = (jwt: string, body: unknown) =>
      postJson(`${a.url}/hc/connect`, body, { Authorization: `Bearer ${jwt}` });

    /**
     * Agent X's session and app socket, as its browser (or whoever stole its session token)
     * has them: X's own key needs no grant, so the session alone yields X's app token.
     */
    async function victimSocket() {
      const victim = newKey();
      const jwt = await devToken(a.url, victim);
      const conn = await hcConnect(a.url, jwt, victim.agent, secret());
      const ws = await AppWebsocket.connect({
        url: new URL(`ws://127.0.0.1:${conn.appPort}/hc/app/${conn.appPort}?token=${conn.token}`),
        token: conn.appToken,
      });
      const imagodei = conn.cellIds.imagodei as CellId;
      /** A call on X's imagodei cell, signed by `key`. */
      const callAs = (key: TestKey, fn_name: string, payload: unknown, capSecret?: Uint8Array) =>
        sendSigned(
          ws,
          imagodei,
          signCall(
            { cell_id: imagodei, zome_name: 'imagodei', fn_name, payload, cap_secret: capSecret },
            key,
          ),
        );
      return {
        victim,
        jwt,
        callAs,
        close: async () => {
          await (ws.client as unknown as { close(): Promise<unknown> }).close();
        },
      };
    }

    it('refuses a foreign signing key without the agent’s grant, and that key cannot write the cells', async () => {
      const { victim, jwt, callAs, close } = await victimSocket();
      try {
        const attacker = newKey();
        const capSecret = secret();
        const refused = await connectAt(jwt, connectBody(attacker.agent, capSecret));
        expect(refused.status).toBe(403);
        expect(refused.body.error).toMatch(/grant \{nonce, signature\}/);

        await expect(
          callAs(
            attacker,
            'create_relationship',
            { other_agent: attacker.agent, relationship_type: 'family' },
            capSecret,
          ),
        ).rejects.toMatchObject({ name: 'zome_call_unauthorized', message: /BadCapGrant/ });
        // Nothing was written: the victim's family does not list the attacker.
        const family = (await callAs(victim, 'get_family_cluster', victim.agent)) as {
          members: Uint8Array[];
        };
        expect(family.members).toEqual([]);
      } finally {
        await close();
      }
    });

    it('grants a foreign key that the agent signed for, once, for that key and secret only', async () => {
      const { victim, jwt, callAs, close } = await victimSocket();
      onTestFinished(close);
      const helper = newKey();
      const capSecret = secret();
      const grant = connectGrant(await challengeOf(a.url), victim, helper.agent, capSecret);

      // Signed by another key than the agent's, or for another secret or key: refused.
      const forged = connectGrant(await challengeOf(a.url), helper, helper.agent, capSecret);
      expect((await connectAt(jwt, connectBody(helper.agent, capSecret, forged))).status).toBe(401);
      const otherSecret = connectGrant(await challengeOf(a.url), victim, helper.agent, secret());
      expect(
        (await connectAt(jwt, connectBody(helper.agent, capSecret, otherSecret))).body.error,
      ).toMatch(/grant signature does not verify/);
      const otherKey = connectGrant(await challengeOf(a.url), victim, newKey().agent, capSecret);
      expect((await connectAt(jwt, connectBody(helper.agent, capSecret, otherKey))).status).toBe(
        401,
      );

      expect((await connectAt(jwt, connectBody(helper.agent, capSecret, grant))).status).toBe(200);
      const replay = await connectAt(jwt, connectBody(newKey().agent, capSecret, grant));
      expect(replay.status).toBe(401);

      const friend = newKey().agent;
      const out = (await callAs(
        helper,
        'create_relationship',
        { other_agent: friend, relationship_type: 'friend' },
        capSecret,
      )) as { relationship: { initiator: Uint8Array } };
      expect(Buffer.from(out.relationship.initiator).equals(Buffer.from(victim.agent))).toBe(true);
    });
  });
});
