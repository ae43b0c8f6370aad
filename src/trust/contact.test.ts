import { generateKeyPair } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519, InvalidAgentKeyError } from '../reach/index.ts';
import { contactLink, parseContactLink } from './contact.ts';
import { InvalidContactLinkError } from './errors.ts';

const agent = async () => agentKeyFromEd25519((await generateKeyPair('Ed25519')).publicKey.raw);

describe('contact links', () => {
  it('round-trips origin, agent and name', async () => {
    const me = await agent();
    const link = contactLink('https://doorway.example', me, '  Zoë & co ');
    expect(link).toBe(`https://doorway.example/contact/${me}?name=Zo%C3%AB+%26+co`);
    expect(parseContactLink(link)).toEqual({
      origin: 'https://doorway.example',
      agent: me,
      displayName: 'Zoë & co',
    });
  });

  it('leaves an empty name out, and takes a bare agent key', async () => {
    const me = await agent();
    const link = contactLink('http://127.0.0.1:8080', me, '');
    expect(link).toBe(`http://127.0.0.1:8080/contact/${me}`);
    expect(parseContactLink(link)).toEqual({ origin: 'http://127.0.0.1:8080', agent: me });
    expect(parseContactLink(` ${me} `)).toEqual({ agent: me });
  });

  it('refuses links that are not contact links, or whose key is damaged', async () => {
    const me = await agent();
    expect(() => contactLink('https://d.example', 'uhCAknope', 'x')).toThrow(InvalidAgentKeyError);
    expect(() => parseContactLink('not a link')).toThrow(InvalidContactLinkError);
    expect(() => parseContactLink(`https://d.example/content/${me}`)).toThrow(
      /not \/contact\/<agent key>/,
    );
    const damaged = `${me.slice(0, -2)}${me.endsWith('AA') ? 'AB' : 'AA'}`;
    expect(() => parseContactLink(`https://d.example/contact/${damaged}`)).toThrow(
      /agent key is damaged/,
    );
  });
});
