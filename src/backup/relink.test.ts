import { describe, expect, it } from 'vitest';
import { missingLinks } from './relink.ts';

const me = 'uhCAkme';
const ana = 'uhCAkana';
const bo = 'uhCAkbo';

describe('the links a restore makes again', () => {
  it('are the contacts’ link types this agent has not made, never links to itself', () => {
    const contacts = [
      { agent: ana, name: 'Ana', types: ['contact', 'family'] },
      { agent: bo, name: 'Bo', types: ['contact'] },
      { agent: me, name: 'me', types: ['contact'] },
    ];
    const links = [
      { initiator: me, otherAgent: ana, type: 'contact' },
      // Bo's link to me is Bo's: mine to Bo is still missing.
      { initiator: bo, otherAgent: me, type: 'contact' },
    ];
    expect(missingLinks(contacts, links, me)).toEqual([
      { agent: ana, type: 'family' },
      { agent: bo, type: 'contact' },
    ]);
    expect(
      missingLinks(
        contacts.slice(0, 1),
        [...links, { initiator: me, otherAgent: ana, type: 'family' }],
        me,
      ),
    ).toEqual([]);
  });
});
