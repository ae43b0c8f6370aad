/** The emulator's function table against the wire's, and rows read back as wire records. */
import { describe, expect, it } from 'vitest';
import { TRUST_ROLE_OF, type TrustFunction } from '../../src/wire/index.ts';
import { fromRow } from './zome-context.ts';
import { ZOMES } from './zomes.ts';

describe('zome table', () => {
  it('has every wire function in its role’s zome, and no other', () => {
    const emulated = [...ZOMES].flatMap(([role, zomes]) =>
      [...zomes].flatMap(([zome, fns]) => [...fns.keys()].map((fn) => `${role}/${zome}/${fn}`)),
    );
    const wire = (Object.keys(TRUST_ROLE_OF) as TrustFunction[]).map(
      (fn) => `${TRUST_ROLE_OF[fn]}/${TRUST_ROLE_OF[fn]}/${fn}`,
    );
    expect(emulated.sort()).toEqual(wire.sort());
    expect(ZOMES.get('lamad')?.size).toBe(0);
  });

  it('reads a row’s Buffers back as plain Uint8Arrays, other columns as they are', () => {
    const record = fromRow<{ agent: Uint8Array; name: string; at: number; region: null }>({
      agent: Buffer.from([1, 2, 3]),
      name: 'a',
      at: 7,
      region: null,
    });
    expect(Buffer.isBuffer(record.agent)).toBe(false);
    expect(record.agent).toEqual(new Uint8Array([1, 2, 3]));
    expect(record).toMatchObject({ name: 'a', at: 7, region: null });
  });
});
