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

describe('KeyedLock', () => {
  it('runs tasks of one key one after another, in call order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = lock.run('k', a.task);
    const pb = lock.run('k', b.task);
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['start a']);
    b.release();
    a.release();
    expect(await Promise.all([pa, pb])).toEqual(['a', 'b']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = lock.run('x', a.task);
    const pb = lock.run('y', b.task);
    await Promise.resolve();
    await Promise.resolve();
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
