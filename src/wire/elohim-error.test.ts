import { describe, expect, it } from 'vitest';
import { clip, ElohimError, errorMessage } from './index.ts';

class BaseError extends ElohimError.named('BaseError') {}
class LeafError extends BaseError.named('LeafError') {
  constructor(
    readonly what: string,
    cause?: unknown,
  ) {
    super(`leaf ${what}`, { cause });
  }
}

describe('ElohimError.named', () => {
  it('sets the given name, keeps the class chain and passes the cause through', () => {
    const cause = new Error('below');
    const e = new LeafError('x', cause);
    expect(e.name).toBe('LeafError');
    expect(e.message).toBe('leaf x');
    expect(e.what).toBe('x');
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(LeafError);
    expect(e).toBeInstanceOf(BaseError);
    expect(e).toBeInstanceOf(ElohimError);
    expect(e).toBeInstanceOf(Error);
    expect(new BaseError('m').name).toBe('BaseError');
    expect(String(new BaseError('m'))).toBe('BaseError: m');
  });
});

describe('clip and errorMessage', () => {
  it('cuts long input with an ellipsis and leaves short input alone', () => {
    expect(clip('abcdef', 3)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
  });
  it('gives the message of an Error and the string of anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage(42)).toBe('42');
  });
});
