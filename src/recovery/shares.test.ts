import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519 } from '../reach/index.ts';
import { fromBase64Url, toBase64Url } from '../wire/index.ts';
import { RecoverySetupError, ShareRefusedError } from './errors.ts';
import {
  type HeldShare,
  type Me,
  makeRecoverySetup,
  type Release,
  recoverFrom,
  recoverySecret,
  releaseShare,
  requestCode,
} from './shares.ts';

async function agent(): Promise<Me & { identity: Uint8Array }> {
  const key = await generateKeyPair('Ed25519');
  return {
    agent: agentKeyFromEd25519(key.publicKey.raw),
    secret: key.raw,
    identity: privateKeyToProtobuf(key),
  };
}

/** An owner with a family key, `n` guardians, a new browser; the setup made for `threshold`. */
async function world(n: number, threshold: number) {
  const owner = await agent();
  const guardians = await Promise.all(Array.from({ length: n }, agent));
  const requester = await agent();
  const cluster = { id: 'family-cluster-id-0001', key: crypto.getRandomValues(new Uint8Array(32)) };
  const secret = recoverySecret({ identity: owner.identity, agent: owner.agent, cluster });
  const setup = await makeRecoverySetup(
    secret,
    owner,
    guardians.map((g) => g.agent),
    threshold,
  );
  /** What the trust layer lists to guardian `i`. */
  const held = (i: number): HeldShare => ({
    owner: owner.agent,
    setup: setup.setup,
    threshold,
    total: n,
    ...(setup.shares[i] as RecoverySetupShare),
  });
  /** Guardian `i`'s release to `to` (the requester unless said). */
  const release = async (i: number, to: Me = requester): Promise<Release> => ({
    owner: owner.agent,
    guardian: (guardians[i] as Me).agent,
    requester: to.agent,
    setup: setup.setup,
    threshold,
    ...(await releaseShare(held(i), to.agent, guardians[i] as Me)),
  });
  return { owner, guardians, requester, cluster, setup, held, release };
}
type RecoverySetupShare = { guardian: string; iv: string; sealed: string };

/** `sealed` with one byte flipped. */
function tampered(r: Release): Release {
  const bytes = fromBase64Url(r.sealed) as Uint8Array;
  bytes[5] = (bytes[5] as number) ^ 1;
  return { ...r, sealed: toBase64Url(bytes) };
}

describe('social recovery', () => {
  it('gives nothing back with fewer than the threshold, and the identity with it (3 of 5)', async () => {
    const w = await world(5, 3);
    const two = [await w.release(0), await w.release(3)];
    const [short] = await recoverFrom(two, w.requester);
    expect(short).toMatchObject({ owner: w.owner.agent, have: 2, need: 3, refused: [] });
    expect(short?.payload).toBeUndefined();

    const [done] = await recoverFrom([...two, await w.release(4)], w.requester);
    expect(done?.have).toBe(3);
    expect(done?.payload?.agent).toBe(w.owner.agent);
    expect(done?.payload?.identity).toEqual(w.owner.identity);
    expect(done?.payload?.cluster).toEqual(w.cluster);
    expect(done?.payload?.contacts).toEqual([]);
  });

  it('seals each share for its guardian only', async () => {
    const w = await world(3, 2);
    // Guardian 1 cannot open (and so cannot release) guardian 0's share.
    await expect(
      releaseShare(
        { ...w.held(0), guardian: (w.guardians[1] as Me).agent },
        w.requester.agent,
        w.guardians[1] as Me,
      ),
    ).rejects.toBeInstanceOf(ShareRefusedError);
    // A share whose threshold was edited (by the trust layer, say) no longer opens.
    await expect(
      releaseShare({ ...w.held(0), threshold: 1 }, w.requester.agent, w.guardians[0] as Me),
    ).rejects.toBeInstanceOf(ShareRefusedError);
  });

  it('refuses a tampered share, says whose, and still recovers from enough good ones', async () => {
    const w = await world(5, 3);
    const bad = tampered(await w.release(1));
    const [short] = await recoverFrom([await w.release(0), bad, await w.release(2)], w.requester);
    expect(short?.have).toBe(2);
    expect(short?.payload).toBeUndefined();
    expect(short?.refused).toHaveLength(1);
    expect(short?.refused[0]?.guardian).toBe((w.guardians[1] as Me).agent);
    expect(short?.refused[0]?.reason).toMatch(/changed on the way/);

    const [done] = await recoverFrom(
      [await w.release(0), bad, await w.release(2), await w.release(3)],
      w.requester,
    );
    expect(done?.payload?.agent).toBe(w.owner.agent);
  });

  it('finds a set that gives back the owner when one guardian releases a wrong share', async () => {
    const w = await world(4, 2);
    // A guardian that seals garbage for the requester: it opens, but it is not a share.
    const liar = w.guardians[0] as Me;
    const other = await world(4, 2);
    const wrong: Release = {
      ...(await w.release(0)),
      ...(await releaseShare(
        { ...other.held(0), owner: other.owner.agent },
        w.requester.agent,
        other.guardians[0] as Me,
      )),
    };
    expect(wrong.guardian).toBe(liar.agent);
    const [progress] = await recoverFrom([wrong, await w.release(1)], w.requester);
    expect(progress?.payload).toBeUndefined();
    const [done] = await recoverFrom([wrong, await w.release(1), await w.release(2)], w.requester);
    expect(done?.payload?.agent).toBe(w.owner.agent);
  });

  it('counts only releases sent to this browser, sealed for it', async () => {
    const w = await world(3, 2);
    const thief = await agent();
    const releases = [await w.release(0), await w.release(1)];
    // The thief reads the requester's releases: they are not addressed to it.
    expect(await recoverFrom(releases, thief)).toEqual([]);
    // Relabelled as sent to the thief, they do not open with its keys.
    const [stolen] = await recoverFrom(
      releases.map((r) => ({ ...r, requester: thief.agent })),
      thief,
    );
    expect(stolen?.have).toBe(0);
    expect(stolen?.payload).toBeUndefined();
  });

  it('refuses a setup that cannot work', async () => {
    const w = await world(3, 2);
    const secret = recoverySecret({ identity: w.owner.identity, agent: w.owner.agent });
    const g = w.guardians.map((x) => x.agent);
    const setup = (guardians: string[], threshold: number) =>
      makeRecoverySetup(secret, w.owner, guardians, threshold);
    await expect(setup(g.slice(0, 1), 2)).rejects.toBeInstanceOf(RecoverySetupError);
    await expect(setup(g, 1)).rejects.toThrow(/2 to 3/);
    await expect(setup(g, 4)).rejects.toThrow(/2 to 3/);
    await expect(setup([g[0] as string, g[0] as string], 2)).rejects.toThrow(/once/);
    await expect(setup([g[0] as string, w.owner.agent], 2)).rejects.toThrow(/not yourself/);
    const many = await Promise.all(Array.from({ length: 11 }, agent));
    await expect(
      setup(
        many.map((m) => m.agent),
        3,
      ),
    ).rejects.toThrow(/2 to 10/);
    await expect(makeRecoverySetup(secret, w.guardians[0] as Me, g.slice(1), 2)).rejects.toThrow(
      /own identity/,
    );
  });

  it('shows a check code of 8 digits that differs from browser to browser', async () => {
    const [a, b] = [await agent(), await agent()];
    expect(await requestCode(a.agent)).toMatch(/^\d{4} \d{4}$/);
    expect(await requestCode(a.agent)).toBe(await requestCode(a.agent));
    expect(await requestCode(a.agent)).not.toBe(await requestCode(b.agent));
  });
});
