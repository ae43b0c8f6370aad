/** The trust wire's pure helpers: the texts agents sign and the refusal kinds. */
import { describe, expect, it } from 'vitest';
import {
  connectGrantText,
  devTokenText,
  isWireErrorKind,
  TRUST_ROLE_OF,
  type TrustFunction,
} from './trust.ts';

const challenge = {
  nonce: 'n0nce',
  doorway: '12D3KooWdoorway',
  origin: 'https://doorway.example',
};

describe('trust wire', () => {
  it('writes the dev-token text line for line, purpose first and nonce last', () => {
    expect(devTokenText(challenge, 'uhCAkagent').split('\n')).toEqual([
      'elohim-doorway-dev-token/v2',
      'doorway: 12D3KooWdoorway',
      'origin: https://doorway.example',
      'agent: uhCAkagent',
      'nonce: n0nce',
    ]);
  });

  it('writes the connect-grant text naming the key and the secret’s digest', () => {
    expect(connectGrantText(challenge, 'uhCAkagent', 'uhCAkother', 'c2hh').split('\n')).toEqual([
      'elohim-doorway-connect-grant/v1',
      'doorway: 12D3KooWdoorway',
      'origin: https://doorway.example',
      'agent: uhCAkagent',
      'signing-key: uhCAkother',
      'cap-secret-sha256: c2hh',
      'nonce: n0nce',
    ]);
  });

  it('tells conductor refusals from other errors', () => {
    expect(isWireErrorKind('ribosome_error')).toBe(true);
    expect(isWireErrorKind('zome_call_unauthorized')).toBe(true);
    expect(isWireErrorKind('InvalidTokenError')).toBe(false);
    expect(isWireErrorKind('Error')).toBe(false);
    expect(isWireErrorKind('constructor')).toBe(false);
  });

  it('puts every function in the infrastructure or imagodei role', () => {
    const roles = new Set(Object.values(TRUST_ROLE_OF));
    expect([...roles].sort()).toEqual(['imagodei', 'infrastructure']);
    const fn: TrustFunction = 'find_publishers';
    expect(TRUST_ROLE_OF[fn]).toBe('infrastructure');
    expect(TRUST_ROLE_OF.grant_cluster_key).toBe('imagodei');
  });
});
