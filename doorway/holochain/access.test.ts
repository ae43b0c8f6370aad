import { encodeHashToBase64 } from '@holochain/client';
import { describe, expect, it } from 'vitest';
import type { Reach } from '../../src/wire/index.ts';
import { type connectAgent, sharedTrustServer, suiteAgents } from './test-support.ts';
import { peerIdOfAgent } from './zomes.ts';

type Agent = Awaited<ReturnType<typeof connectAgent>>;

describe('who may read a profile', () => {
  const server = sharedTrustServer('hc-access-');
  const agent = suiteAgents(server);

  async function profile(owner: Agent, reach: Reach): Promise<string> {
    const peerId = peerIdOfAgent(owner.agent);
    await owner.call('imagodei', 'create_human', {
      display_name: `${reach} person`,
      peer_id: peerId,
      multiaddrs: [],
      profile_reach: reach,
    });
    return peerId;
  }

  const link = (from: Agent, to: Agent, type: string) =>
    from.call('imagodei', 'create_relationship', {
      other_agent: to.agent,
      relationship_type: type,
    });

  /** An owner whose profile has `reach`, and a reader who has no link to it yet. */
  async function ownerAndReader(reach: Reach) {
    const owner = await agent();
    const reader = await agent();
    return { owner, reader, peerId: await profile(owner, reach) };
  }
  /** What a reader learns of a profile it may not see. */
  const hidden = { human: null, byPeer: null };

  /** What `reader` learns of `owner`: the profile's name and the PeerId lookup's answer. */
  async function seen(reader: Agent, owner: Agent, peerId: string) {
    const human = await reader.call<{ display_name: string } | null>(
      'imagodei',
      'get_human',
      owner.agent,
    );
    const byPeer = await reader.call<Uint8Array | null>('imagodei', 'get_agent_by_peer_id', peerId);
    return {
      human: human?.display_name ?? null,
      byPeer: byPeer ? encodeHashToBase64(byPeer) : null,
    };
  }

  it('invited: only agents the owner made a relationship to, not agents who named the owner', async () => {
    const { owner, reader, peerId } = await ownerAndReader('invited');

    await link(reader, owner, 'friend');
    await link(reader, owner, 'family');
    expect(await seen(reader, owner, peerId)).toEqual(hidden);

    await link(owner, reader, 'friend');
    expect(await seen(reader, owner, peerId)).toEqual({
      human: 'invited person',
      byPeer: encodeHashToBase64(owner.agent),
    });
  });

  it("local: only the owner's family, not its friends, nor agents who call it family", async () => {
    const { owner, reader, peerId } = await ownerAndReader('local');

    await link(reader, owner, 'family');
    expect(await seen(reader, owner, peerId)).toEqual(hidden);
    await link(owner, reader, 'friend');
    expect(await seen(reader, owner, peerId)).toEqual(hidden);

    await link(owner, reader, 'family');
    expect((await seen(reader, owner, peerId)).human).toBe('local person');
  });

  it('private: the owner only; a PeerId lookup by anyone else answers nil as for no profile', async () => {
    const { owner, reader, peerId } = await ownerAndReader('private');
    await link(owner, reader, 'family');
    await link(reader, owner, 'family');
    expect(await seen(reader, owner, peerId)).toEqual({ human: null, byPeer: null });
    expect(await seen(owner, owner, peerId)).toEqual({
      human: 'private person',
      byPeer: encodeHashToBase64(owner.agent),
    });
    const nobody = await agent();
    expect(await seen(reader, nobody, peerIdOfAgent(nobody.agent))).toEqual({
      human: null,
      byPeer: null,
    });
  });

  it('commons: everyone', async () => {
    const owner = await agent();
    const stranger = await agent();
    const peerId = await profile(owner, 'commons');
    expect(await seen(stranger, owner, peerId)).toEqual({
      human: 'commons person',
      byPeer: encodeHashToBase64(owner.agent),
    });
  });

  describe('zome and function names', () => {
    const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    /** Things of the emulator's own that an answer must never carry. */
    const leaks = () => [
      server().dataDir,
      'hc-emulator',
      'signingPublicKey',
      'statements',
      'evidence',
    ];

    async function refusal(caller: Agent, zome_name: string, fn_name: string) {
      return caller.ws
        .callZome({ role_name: 'infrastructure', zome_name, fn_name, payload: {} })
        .then(
          (value) => ({ name: 'answered', message: JSON.stringify(value) }),
          (e: Error) => ({ name: e.name, message: e.message }),
        );
    }

    it("finds no zome named after Object's prototype, and leaks nothing", async () => {
      const caller = await agent();
      for (const [zome, fn] of [['constructor', 'assign'], ...INHERITED.map((z) => [z, 'x'])]) {
        const error = await refusal(caller, zome as string, fn as string);
        expect(error.name, `${zome}/${fn}`).toBe('ribosome_error');
        expect(error.message).toMatch(/ZomeNotFound/);
        for (const leak of leaks()) expect(error.message).not.toContain(leak);
      }
    });

    it("finds no function named after Object's prototype in a real zome", async () => {
      const caller = await agent();
      for (const fn of [...INHERITED, 'assign']) {
        const error = await refusal(caller, 'infrastructure', fn);
        expect(error.name, fn).toBe('ribosome_error');
        expect(error.message).toMatch(/a zome function that doesn't exist/);
      }
    });
  });
});
