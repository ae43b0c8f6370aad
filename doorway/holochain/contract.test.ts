/**
 * Contract tests of the app interface, through the real @holochain/client AppWebsocket.
 *
 * By default they start the conductor EMULATOR (a doorway-like server on 127.0.0.1 with a temp
 * data dir). To run them against another app interface (a real conductor, or a doorway in proxy
 * mode) set:
 *   ELOHIM_HC_APP_URL      ws URL of the app interface (with ?token=<jwt> for a doorway)
 *   ELOHIM_HC_TOKEN        app authentication token, base64
 *   ELOHIM_HC_SIGNING_SEED Ed25519 seed (32 bytes, base64) of a signing key holding an assigned
 *                          capability grant on the app's cells
 *   ELOHIM_HC_CAP_SECRET   that grant's secret (64 bytes, base64)
 * Tests that need the emulator's HTTP side or the agent's own key are skipped then.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppSignal, AppWebsocket, type CellId, type Signal } from '@holochain/client';
import { encode } from '@msgpack/msgpack';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizeCells,
  connectAgent,
  devToken,
  expectTokenRefused,
  hcConnect,
  newKey,
  rawSocket,
  sendSigned,
  signCall,
  startTrustServer,
  type TestKey,
  within,
} from './test-support.ts';
import { peerIdOfAgent } from './zomes.ts';

const external = process.env.ELOHIM_HC_APP_URL;
const emulatorOnly = external ? it.skip : it;

const randomHash = () => `sha256-${randomBytes(32).toString('hex')}`;
/** A grant's payload as src/reach makes it: random id, a 12-byte IV, a wrapped 32-byte key. */
const grantPayload = (grantee: Uint8Array, cluster = randomBytes(16).toString('base64url')) => ({
  cluster,
  grantee,
  context: 'elohim-cluster-grant-v1',
  version: 1,
  iv: randomBytes(12).toString('base64url'),
  wrapped_key: randomBytes(48).toString('base64url'),
});
const b64 = (name: string) => new Uint8Array(Buffer.from(process.env[name] ?? '', 'base64'));

interface Target {
  appUrl: URL;
  appToken: number[];
  signer: TestKey;
  capSecret: Uint8Array;
  /** Emulator only: the HTTP base URL and the device key of the app's agent. */
  baseUrl?: string;
  agentKey?: TestKey;
  close(): Promise<void>;
}

async function emulatorTarget(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-contract-'));
  const server = await startTrustServer({
    dataDir: dir,
    hcConductor: undefined,
    hcDevTokens: true,
  });
  const agentKey = newKey();
  // The browser flow: prove the device key, then authorize a signing key on every cell.
  const jwt = await devToken(server.url, agentKey);
  const signer = newKey();
  const capSecret = new Uint8Array(randomBytes(64));
  const conn = await hcConnect(server.url, jwt, signer.agent, capSecret, agentKey);
  return {
    appUrl: new URL(`ws://127.0.0.1:${conn.appPort}/hc/app/${conn.appPort}?token=${conn.token}`),
    appToken: conn.appToken,
    signer,
    capSecret,
    baseUrl: server.url,
    agentKey,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function externalTarget(url: string): Target {
  return {
    appUrl: new URL(url),
    appToken: [...b64('ELOHIM_HC_TOKEN')],
    signer: newKey(b64('ELOHIM_HC_SIGNING_SEED')),
    capSecret: b64('ELOHIM_HC_CAP_SECRET'),
    close: async () => {},
  };
}

async function expectError(promise: Promise<unknown>, kind: string, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error, `expected a ${kind} error`).toBeInstanceOf(Error);
  expect(error?.name).toBe(kind);
  expect(error?.message).toMatch(message);
}

describe('Holochain app interface contract', () => {
  let target: Target;
  let ws: AppWebsocket;
  let cells: Record<'lamad' | 'infrastructure' | 'imagodei', CellId>;
  const signals: AppSignal[] = [];

  const call = <T>(role: 'infrastructure' | 'imagodei', fn: string, payload?: unknown) =>
    ws.callZome<T>({ role_name: role, zome_name: role, fn_name: fn, payload });

  beforeAll(async () => {
    target = external ? externalTarget(external) : await emulatorTarget();
    ws = await AppWebsocket.connect({ url: target.appUrl, token: target.appToken });
    const info = await ws.appInfo();
    cells = {
      lamad: ws.getCellIdFromRoleName('lamad', info),
      infrastructure: ws.getCellIdFromRoleName('infrastructure', info),
      imagodei: ws.getCellIdFromRoleName('imagodei', info),
    };
    authorizeCells(Object.values(cells), target.signer, target.capSecret);
    ws.on('signal', (signal: Signal) => {
      if (signal.type === 'app') signals.push(signal.value);
    });
  });

  afterAll(async () => {
    await (ws?.client as unknown as { close(): Promise<unknown> } | undefined)?.close();
    await target?.close();
  });

  it('answers app_info with one provisioned cell per role, owned by the app agent', async () => {
    const info = await ws.appInfo();
    expect(Object.keys(info.cell_info).sort()).toEqual(['imagodei', 'infrastructure', 'lamad']);
    expect(info.status).toEqual({ type: 'enabled' });
    expect(info.agent_pub_key).toHaveLength(39);
    for (const cellId of Object.values(cells)) {
      expect(Buffer.from(cellId[1]).equals(Buffer.from(info.agent_pub_key))).toBe(true);
      expect([...cellId[0].subarray(0, 3)]).toEqual([0x84, 0x2d, 0x24]);
    }
    if (target.agentKey) {
      expect(Buffer.from(info.agent_pub_key).equals(Buffer.from(target.agentKey.agent))).toBe(true);
    }
  });

  describe('infrastructure', () => {
    it('registers a content server, finds it, and signals the commit', async () => {
      const hash = randomHash();
      const out = await call<{ action_hash: Uint8Array; server: Record<string, unknown> }>(
        'infrastructure',
        'register_content_server',
        {
          content_hash: hash,
          capability: 'blob_serving',
          endpoints: [{ url: '/p2p/12D3KooWExample', protocol: 'libp2p', priority: 90 }],
          priority: 70,
          region: 'eu-west',
        },
      );
      expect([...out.action_hash.subarray(0, 3)]).toEqual([0x84, 0x29, 0x24]);
      expect(out.server).toMatchObject({ content_hash: hash, online: true, priority: 70 });

      const found = await call<Record<string, unknown>[]>('infrastructure', 'find_publishers', {
        content_hash: hash,
      });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        content_hash: hash,
        capability: 'blob_serving',
        endpoints: [{ url: '/p2p/12D3KooWExample', protocol: 'libp2p', priority: 90 }],
        online: true,
        priority: 70,
        region: 'eu-west',
      });
      expect(
        Buffer.from(found[0]?.agent as Uint8Array).equals(Buffer.from(cells.infrastructure[1])),
      ).toBe(true);
      expect(typeof found[0]?.updated_at).toBe('number');

      await expect
        .poll(() => signals.some((s) => JSON.stringify(s.payload).includes(hash)))
        .toBe(true);
      const signal = signals.find((s) => JSON.stringify(s.payload).includes(hash));
      expect(signal?.zome_name).toBe('infrastructure');
      expect(signal?.payload).toMatchObject({
        type: 'ContentServerCommitted',
        payload: { server: { content_hash: hash } },
      });
    });

    it('marks a server offline, hides it from online lookups, and takes it back on re-register', async () => {
      const hash = randomHash();
      const register = {
        content_hash: hash,
        capability: 'blob_serving',
        endpoints: [{ url: 'https://peer.example/content', protocol: 'https', priority: 50 }],
        priority: 50,
      };
      await call('infrastructure', 'register_content_server', register);
      const off = await call<{ server: { online: boolean } }>(
        'infrastructure',
        'mark_content_server_offline',
        {
          content_hash: hash,
        },
      );
      expect(off.server.online).toBe(false);
      expect(await call('infrastructure', 'find_publishers', { content_hash: hash })).toEqual([]);
      const all = await call<{ online: boolean }[]>('infrastructure', 'find_publishers', {
        content_hash: hash,
        online_only: false,
      });
      expect(all.map((s) => s.online)).toEqual([false]);
      await call('infrastructure', 'register_content_server', register);
      const back = await call<{ online: boolean }[]>('infrastructure', 'find_publishers', {
        content_hash: hash,
      });
      expect(back.map((s) => s.online)).toEqual([true]);
      const mine = await call<{ content_hash: string }[]>(
        'infrastructure',
        'get_my_content_servers',
      );
      expect(mine.map((s) => s.content_hash)).toContain(hash);
    });

    it('registers, reads and updates a doorway; a second registration of one id is refused', async () => {
      const id = `doorway-${randomBytes(4).toString('hex')}`;
      const input = {
        id,
        url: 'https://doorway.example',
        capabilities_json: '{"relay":true}',
        reach: 'commons',
        region: null,
        bandwidth_mbps: 100,
        version: '0.1.0',
      };
      const created = await call<{ doorway: Record<string, unknown> }>(
        'infrastructure',
        'register_doorway',
        input,
      );
      expect(created.doorway).toMatchObject({
        id,
        url: input.url,
        tier: 'Emerging',
        reach: 'commons',
      });
      await expectError(
        call('infrastructure', 'register_doorway', input),
        'ribosome_error',
        /already exists/,
      );
      await call('infrastructure', 'update_doorway', { ...input, url: 'https://moved.example' });
      const read = await call<{ doorway: { url: string } }>(
        'infrastructure',
        'get_doorway_by_id',
        id,
      );
      expect(read.doorway.url).toBe('https://moved.example');
      expect(await call('infrastructure', 'get_doorway_by_id', 'no-such-doorway')).toBeNull();
    });
  });

  describe('imagodei', () => {
    it('binds the agent to its PeerId and addresses, and updates them on a second call', async () => {
      const agent = cells.imagodei[1];
      const peerId = peerIdOfAgent(agent);
      const first = await call<{ human: Record<string, unknown> }>('imagodei', 'create_human', {
        display_name: 'Ada',
        peer_id: peerId,
        multiaddrs: [`/ip4/127.0.0.1/tcp/8081/ws/p2p/${peerId}`],
      });
      expect(first.human).toMatchObject({
        display_name: 'Ada',
        peer_id: peerId,
        profile_reach: 'commons',
      });
      await call('imagodei', 'create_human', {
        display_name: 'Ada L.',
        peer_id: peerId,
        multiaddrs: [],
      });
      const human = await call<Record<string, unknown>>('imagodei', 'get_human', agent);
      expect(human).toMatchObject({ display_name: 'Ada L.', multiaddrs: [], peer_id: peerId });
      expect(human.created_at).toBe(first.human.created_at);
      const byPeer = await call<Uint8Array>('imagodei', 'get_agent_by_peer_id', peerId);
      expect(Buffer.from(byPeer).equals(Buffer.from(agent))).toBe(true);
      expect(
        await call('imagodei', 'get_agent_by_peer_id', peerIdOfAgent(newKey().agent)),
      ).toBeNull();
    });

    it('creates relationships and lists them', async () => {
      const other = newKey().agent;
      const out = await call<{ relationship: Record<string, unknown> }>(
        'imagodei',
        'create_relationship',
        {
          other_agent: other,
          relationship_type: 'friend',
          reach: 'invited',
        },
      );
      expect(out.relationship).toMatchObject({ relationship_type: 'friend', reach: 'invited' });
      const mine = await call<{ other_agent: Uint8Array; relationship_type: string }[]>(
        'imagodei',
        'get_my_relationships',
        null,
      );
      expect(mine.some((r) => Buffer.from(r.other_agent).equals(Buffer.from(other)))).toBe(true);
    });
  });

  describe('imagodei family clusters', () => {
    it('grants a cluster key to a family member, lists it, replaces it, and shows the family', async () => {
      const me = cells.imagodei[1];
      const member = newKey().agent;
      await call('imagodei', 'create_relationship', {
        other_agent: member,
        relationship_type: 'family',
      });
      const payload = grantPayload(member);
      const out = await call<{ action_hash: Uint8Array; grant: Record<string, unknown> }>(
        'imagodei',
        'grant_cluster_key',
        payload,
      );
      expect(out.action_hash).toHaveLength(39);
      const { grantee, ...labels } = payload;
      expect(out.grant).toMatchObject(labels);
      expect(Buffer.from(out.grant.granter as Uint8Array).equals(Buffer.from(me))).toBe(true);
      expect(Buffer.from(out.grant.grantee as Uint8Array).equals(Buffer.from(grantee))).toBe(true);
      const again = await call<{ grant: Record<string, unknown> }>(
        'imagodei',
        'grant_cluster_key',
        { ...payload, iv: randomBytes(12).toString('base64url') },
      );
      expect(again.grant.created_at).toBe(out.grant.created_at);
      const mine = await call<{ cluster: string; grantee: Uint8Array; iv: string }[]>(
        'imagodei',
        'get_my_cluster_key_grants',
        null,
      );
      const listed = mine.filter((g) => g.cluster === payload.cluster);
      expect(listed).toHaveLength(1);
      expect(listed[0]?.iv).toBe(again.grant.iv);
      const family = await call<{ owner: Uint8Array; members: Uint8Array[]; clusters: string[] }>(
        'imagodei',
        'get_family_cluster',
        me,
      );
      expect(Buffer.from(family.owner).equals(Buffer.from(me))).toBe(true);
      expect(family.members.some((m) => Buffer.from(m).equals(Buffer.from(member)))).toBe(true);
      expect(family.clusters).toContain(payload.cluster);
      // Someone else's family is not shown to an agent outside it.
      expect(await call('imagodei', 'get_family_cluster', newKey().agent)).toBeNull();
    });

    it('refuses grants to non-family, to yourself, and malformed ones', async () => {
      const me = cells.imagodei[1];
      const friend = newKey().agent;
      await call('imagodei', 'create_relationship', {
        other_agent: friend,
        relationship_type: 'friend',
      });
      await expectError(
        call('imagodei', 'grant_cluster_key', grantPayload(friend)),
        'ribosome_error',
        /Validation failed: grantee must be in your family/,
      );
      await expectError(
        call('imagodei', 'grant_cluster_key', grantPayload(me)),
        'ribosome_error',
        /Validation failed: grantee must be another agent/,
      );
      const kin = newKey().agent;
      await call('imagodei', 'create_relationship', {
        other_agent: kin,
        relationship_type: 'family',
      });
      const good = grantPayload(kin);
      const invalid: [Record<string, unknown>, RegExp][] = [
        [{ ...good, cluster: 'short' }, /cluster must be 16 to 64 base64url/],
        [{ ...good, cluster: `${'a'.repeat(20)}/x` }, /cluster must be/],
        [{ ...good, context: '' }, /context must be 1 to 128 printable/],
        [{ ...good, context: 'a\u0000b' }, /context must be/],
        [{ ...good, version: 2 }, /version must be 1/],
        [{ ...good, iv: randomBytes(16).toString('base64url') }, /iv must be 16 base64url/],
        [{ ...good, wrapped_key: randomBytes(32).toString('base64url') }, /wrapped_key must be 64/],
      ];
      for (const [payload, message] of invalid) {
        await expectError(
          call('imagodei', 'grant_cluster_key', payload),
          'ribosome_error',
          new RegExp(`Validation failed: ${message.source}`),
        );
      }
      await expectError(
        call('imagodei', 'grant_cluster_key', { ...good, grantee: 'uhCAk…' }),
        'ribosome_error',
        /Deserialize\("grant_cluster_key input: grantee must be a 39-byte AgentPubKey/,
      );
      await expectError(
        call('imagodei', 'get_family_cluster', 'uhCAk…'),
        'ribosome_error',
        /Deserialize/,
      );
    });

    emulatorOnly(
      "the grantee is signalled and sees the grant and the family; a cluster id stays its first granter's",
      async () => {
        const baseUrl = target.baseUrl as string;
        const me = cells.imagodei[1];
        const member = await connectAgent(baseUrl);
        const outsider = await connectAgent(baseUrl);
        try {
          await call('imagodei', 'create_relationship', {
            other_agent: member.agent,
            relationship_type: 'family',
          });
          const payload = grantPayload(member.agent);
          await call('imagodei', 'grant_cluster_key', payload);

          const typeOf = (s: AppSignal) => (s.payload as { type?: string }).type;
          await expect.poll(() => member.received.map(typeOf)).toContain('ClusterKeyGranted');
          const granted = member.received.find(
            (s) => typeOf(s) === 'ClusterKeyGranted',
          ) as AppSignal;
          expect(granted.payload).toMatchObject({
            payload: { grant: { cluster: payload.cluster } },
          });
          // From the grantee's own cell, as its recv_remote_signal would emit it.
          expect(Buffer.from(granted.cell_id[1]).equals(Buffer.from(member.agent))).toBe(true);
          expect(outsider.received).toEqual([]);

          const theirs = await member.call<{ cluster: string; granter: Uint8Array }[]>(
            'imagodei',
            'get_my_cluster_key_grants',
          );
          expect(theirs.map((g) => g.cluster)).toEqual([payload.cluster]);
          expect(Buffer.from(theirs[0]?.granter ?? []).equals(Buffer.from(me))).toBe(true);
          const family = await member.call<{ members: Uint8Array[] }>(
            'imagodei',
            'get_family_cluster',
            me,
          );
          expect(family.members.map((m) => Buffer.from(m).toString('hex'))).toContain(
            Buffer.from(member.agent).toString('hex'),
          );
          expect(await outsider.call('imagodei', 'get_my_cluster_key_grants')).toEqual([]);
          expect(await outsider.call('imagodei', 'get_family_cluster', me)).toBeNull();

          // A member naming its own family cannot take over the granter's cluster id.
          await member.call('imagodei', 'create_relationship', {
            other_agent: outsider.agent,
            relationship_type: 'family',
          });
          await expectError(
            member.call(
              'imagodei',
              'grant_cluster_key',
              grantPayload(outsider.agent, payload.cluster),
            ),
            'ribosome_error',
            /Validation failed: cluster .* belongs to another agent/,
          );
        } finally {
          await member.close();
          await outsider.close();
        }
      },
    );
  });

  describe('refusals', () => {
    const register = (hash = randomHash()) => ({
      cell_id: cells.infrastructure,
      zome_name: 'infrastructure',
      fn_name: 'find_publishers',
      payload: { content_hash: hash },
      cap_secret: target.capSecret,
    });

    it('a call signed by another key: zome_call_authentication_failed', async () => {
      const forged = signCall(register(), newKey(), target.signer.agent);
      await expectError(
        sendSigned(ws, cells.infrastructure, forged),
        'zome_call_authentication_failed',
        /Bad signature/,
      );
    });

    it('bytes changed after signing: zome_call_authentication_failed', async () => {
      const signed = signCall(register(), target.signer);
      const tampered = signCall(
        { ...register(), fn_name: 'get_my_content_servers' },
        target.signer,
      );
      await expectError(
        sendSigned(ws, cells.infrastructure, {
          bytes: tampered.bytes,
          signature: signed.signature,
        }),
        'zome_call_authentication_failed',
        /Bad signature/,
      );
    });

    it('a wrong capability secret: zome_call_unauthorized', async () => {
      const signed = signCall(
        { ...register(), cap_secret: new Uint8Array(randomBytes(64)) },
        target.signer,
      );
      await expectError(
        sendSigned(ws, cells.infrastructure, signed),
        'zome_call_unauthorized',
        /BadCapGrant/,
      );
    });

    it('no capability secret from a key that is not the agent: zome_call_unauthorized', async () => {
      const signed = signCall({ ...register(), cap_secret: null }, target.signer);
      await expectError(
        sendSigned(ws, cells.infrastructure, signed),
        'zome_call_unauthorized',
        /BadCapGrant/,
      );
    });

    it('a replayed nonce: zome_call_unauthorized (Duplicate)', async () => {
      const signed = signCall(register(), target.signer);
      expect(await sendSigned(ws, cells.infrastructure, signed)).toEqual([]);
      await expectError(
        sendSigned(ws, cells.infrastructure, signed),
        'zome_call_unauthorized',
        /BadNonce\("Duplicate"\)/,
      );
    });

    it('an expired call, or one expiring too far ahead: zome_call_unauthorized', async () => {
      const expired = signCall(
        { ...register(), expires_at: (Date.now() - 1000) * 1000 },
        target.signer,
      );
      await expectError(
        sendSigned(ws, cells.infrastructure, expired),
        'zome_call_unauthorized',
        /BadNonce\("Expired"\)/,
      );
      const future = signCall(
        { ...register(), expires_at: (Date.now() + 24 * 3600_000) * 1000 },
        target.signer,
      );
      await expectError(
        sendSigned(ws, cells.infrastructure, future),
        'zome_call_unauthorized',
        /BadNonce\("Future"\)/,
      );
    });

    it('an unknown function or zome: ribosome_error', async () => {
      await expectError(
        call('infrastructure', 'no_such_function', null),
        'ribosome_error',
        /doesn't exist.*no_such_function/,
      );
      await expectError(
        ws.callZome({
          role_name: 'infrastructure',
          zome_name: 'no_such_zome',
          fn_name: 'find_publishers',
          payload: null,
        }),
        'ribosome_error',
        /no_such_zome/,
      );
    });

    it('invalid entries: ribosome_error "Validation failed"', async () => {
      const server = {
        content_hash: randomHash(),
        capability: 'blob_serving',
        endpoints: [{ url: '/p2p/x', protocol: 'libp2p', priority: 1 }],
        priority: 1,
      };
      const invalid = [
        { ...server, content_hash: 'md5-abc' },
        { ...server, content_hash: server.content_hash.toUpperCase() },
        { ...server, endpoints: [] },
        { ...server, endpoints: Array.from({ length: 17 }, () => server.endpoints[0]) },
        { ...server, priority: 300 },
        { ...server, capability: 'Has Spaces' },
      ];
      for (const payload of invalid) {
        await expectError(
          call('infrastructure', 'register_content_server', payload),
          'ribosome_error',
          /Validation failed/,
        );
      }
      const peerId = peerIdOfAgent(cells.imagodei[1]);
      await expectError(
        call('imagodei', 'create_human', {
          display_name: 'X',
          peer_id: peerIdOfAgent(newKey().agent),
          multiaddrs: [],
        }),
        'ribosome_error',
        /Validation failed: peer_id/,
      );
      await expectError(
        call('imagodei', 'create_human', {
          display_name: 'X',
          peer_id: peerId,
          multiaddrs: [],
          profile_reach: 'galactic',
        }),
        'ribosome_error',
        /Validation failed: profile_reach must be one of private, invited/,
      );
      await expectError(
        call('imagodei', 'create_human', { display_name: '', peer_id: peerId, multiaddrs: [] }),
        'ribosome_error',
        /Validation failed: display_name/,
      );
      await expectError(
        call('imagodei', 'create_human', {
          display_name: 'X',
          peer_id: peerId,
          multiaddrs: ['not a multiaddr'],
        }),
        'ribosome_error',
        /Validation failed: multiaddrs\[0\]/,
      );
      await expectError(
        call('imagodei', 'create_relationship', {
          other_agent: cells.imagodei[1],
          relationship_type: 'friend',
        }),
        'ribosome_error',
        /Validation failed: other_agent/,
      );
    });

    it('a payload of the wrong shape: ribosome_error (deserialize)', async () => {
      await expectError(
        call('infrastructure', 'register_content_server', { content_hash: 5 }),
        'ribosome_error',
        /Deserialize/,
      );
      await expectError(
        call('infrastructure', 'find_publishers', 'not a map'),
        'ribosome_error',
        /Deserialize/,
      );
    });

    it('a bad app token: the socket closes', async () => {
      await expectTokenRefused(target.appUrl);
    });
  });

  describe('emulator specifics', () => {
    emulatorOnly(
      'the agent itself (the browser device key) calls its own cells without a secret',
      async () => {
        const agentKey = target.agentKey as TestKey;
        const hash = randomHash();
        const signed = signCall(
          {
            cell_id: cells.infrastructure,
            zome_name: 'infrastructure',
            fn_name: 'register_content_server',
            payload: {
              content_hash: hash,
              capability: 'blob_serving',
              endpoints: [{ url: '/p2p/a', protocol: 'libp2p' }],
            },
          },
          agentKey,
        );
        const out = (await sendSigned(ws, cells.infrastructure, signed)) as {
          server: { priority: number };
        };
        expect(out.server.priority).toBe(50);
      },
    );

    emulatorOnly(
      "another agent cannot call this agent's cells, and sees its records in lookups",
      async () => {
        const baseUrl = target.baseUrl as string;
        const other = newKey();
        const jwt = await devToken(baseUrl, other);
        const secret = new Uint8Array(randomBytes(64));
        const conn = await hcConnect(baseUrl, jwt, other.agent, secret);
        const otherWs = await AppWebsocket.connect({
          url: new URL(`ws://127.0.0.1:${conn.appPort}/hc/app/${conn.appPort}?token=${conn.token}`),
          token: conn.appToken,
        });
        try {
          const intrusion = signCall(
            {
              cell_id: cells.infrastructure,
              zome_name: 'infrastructure',
              fn_name: 'get_my_content_servers',
              cap_secret: secret,
            },
            other,
          );
          await expectError(
            sendSigned(otherWs, cells.infrastructure, intrusion),
            'zome_call_unauthorized',
            /BadCapGrant/,
          );

          // The DHT is shared: the other agent finds what this one registered.
          const hash = randomHash();
          await call('infrastructure', 'register_content_server', {
            content_hash: hash,
            capability: 'blob_serving',
            endpoints: [{ url: '/p2p/a', protocol: 'libp2p' }],
          });
          const infra = conn.cellIds.infrastructure as CellId;
          const found = signCall(
            {
              cell_id: infra,
              zome_name: 'infrastructure',
              fn_name: 'find_publishers',
              payload: { content_hash: hash },
            },
            other,
          );
          const servers = (await sendSigned(otherWs, infra, found)) as { agent: Uint8Array }[];
          expect(
            servers.map((s) => Buffer.from(s.agent).equals(Buffer.from(cells.infrastructure[1]))),
          ).toEqual([true]);
        } finally {
          await (otherWs.client as unknown as { close(): Promise<unknown> }).close();
        }
      },
    );

    emulatorOnly('an app token opens only the app of the session it was issued to', async () => {
      const baseUrl = target.baseUrl as string;
      const stranger = newKey();
      const strangerJwt = await devToken(baseUrl, stranger);
      const port = new URL(baseUrl).port;
      const url = `ws://127.0.0.1:${port}/hc/app/${port}?token=${strangerJwt}`;
      // The refusal itself, on a raw socket: closed 1008 right after authenticate.
      const raw = await rawSocket(url);
      raw.ws.send(encode({ type: 'authenticate', data: encode({ token: target.appToken }) }));
      expect(await within(raw.closed, 10_000, 'closing after another agent’s token')).toBe(1008);
      // Through the client: it gives the close 10 ms before it sends app_info, so on a loaded
      // machine the same refusal surfaces as a socket closed under that request.
      const error = await AppWebsocket.connect({ url: new URL(url), token: target.appToken }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.name).toMatch(/^(InvalidTokenError|ClientClosedWithPendingRequests)$/);
    });

    it('verifies the signature over the bytes as received, whatever their field order', async () => {
      // A conductor hashes what arrived, never a re-encoding: params in another key order than
      // the client's, signed over those bytes, are accepted.
      const params = {
        expires_at: (Date.now() + 60_000) * 1000,
        nonce: new Uint8Array(randomBytes(32)),
        payload: encode({ content_hash: randomHash() }),
        provenance: target.signer.agent,
        fn_name: 'find_publishers',
        zome_name: 'infrastructure',
        cell_id: cells.infrastructure,
        cap_secret: target.capSecret,
      };
      const bytes = encode(params);
      const signature = ed25519.sign(
        createHash('sha512').update(bytes).digest(),
        target.signer.seed,
      );
      expect(await sendSigned(ws, cells.infrastructure, { bytes, signature })).toEqual([]);
    });
  });
});
