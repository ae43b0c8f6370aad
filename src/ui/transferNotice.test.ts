import { describe, expect, it } from 'vitest';
import { doneNotice, LONG_TRANSFER_MS } from './transferNotice.ts';

describe('doneNotice', () => {
  const long = LONG_TRANSFER_MS + 1;

  it('says nothing to a person looking at the page, or after a short transfer', () => {
    expect(doneNotice({ hidden: false, elapsedMs: long, permission: 'granted' })).toBe('none');
    expect(doneNotice({ hidden: true, elapsedMs: 1_000, permission: 'granted' })).toBe('none');
  });

  it('notifies a person in another tab who allowed it, else marks the title', () => {
    expect(doneNotice({ hidden: true, elapsedMs: long, permission: 'granted' })).toBe(
      'notification',
    );
    for (const permission of ['default', 'denied', 'unsupported'] as const) {
      expect(doneNotice({ hidden: true, elapsedMs: long, permission })).toBe('title');
    }
  });
});
