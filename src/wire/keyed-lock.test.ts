import { describe, expect, it } from 'vitest';
import { KeyedLock } from './index.ts';

/** A task that runs until `release` is called, recording when it starts and ends. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const task = async () => {
    log.push(`start ${name}`);
    await released;
    log.push(`end ${name}`);
    return name;
  };
  return { task, release };
}

/** Gated tasks a then b run under keys `ka` and `kb`, once whatever can start has started. */
async function twoTasks(ka: string, kb: string) {
  const lock = new KeyedLock();
  const log: string[] = [];
  const a = gate(log, 'a');
  const b = gate(log, 'b');
  const pa = lock.run(ka, a.task);
  const pb = lock.run(kb, b.task);
  // A started task logs in the microtask after its turn comes; two ticks cover both.
  await Promise.resolve();
  await Promise.resolve();
  return { log, a, b, pa, pb };
}

describe('KeyedLock', () => {
  it('runs tasks of one key one after another, in call order', async () => {
    const { log, a, b, pa, pb } = await twoTasks('k', 'k');
    expect(log).toEqual(['start a']);
    b.release();
    a.release();
    expect(await Promise.all([pa, pb])).toEqual(['a', 'b']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const { log, a, b, pa, pb } = await twoTasks('x', 'y');
    expect(log).toEqual(['start a', 'start b']);
    b.release();
    expect(await pb).toBe('b');
    a.release();
    expect(await pa).toBe('a');
  });

  it('runs the next task after one that failed, and the failure reaches its caller', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('k', async () => {
      throw new Error('boom');
    });
    const next = lock.run('k', async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
  });
});
