import { describe, expect, it } from 'vitest';
import { contentHashOf, openFailed } from './problem.ts';

const HEX = 'ab'.repeat(32);
const at = (path: string, accept?: string) => {
  const url = new URL(path, 'https://elohim.test');
  const request = new Request(url, accept ? { headers: { Accept: accept } } : {});
  return { request, url };
};
const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('contentHashOf: the hash a /content/ link names, or its 400', () => {
  it('reads a well-formed link', () => {
    const { request, url } = at(`/content/sha256-${HEX}`);
    expect(contentHashOf(request, url)).toBe(`sha256-${HEX}`);
  });

  it.each([
    ['a short hex', `/content/sha256-${HEX.slice(1)}`],
    ['letters', '/content/sha256-xyz'],
    ['nothing', '/content/'],
    ['a stray %', '/content/sha256-%E0%A4%A'],
    ['a huge path', `/content/${'a'.repeat(10_000)}`],
  ])('answers 400 in plain words for %s, without searching', async (_what, path) => {
    const { request, url } = at(path);
    const answer = contentHashOf(request, url) as Response;
    expect(answer).toBeInstanceOf(Response);
    expect(answer.status).toBe(400);
    expect(answer.headers.get('Content-Type')).toMatch(/^text\/plain/);
    const text = await answer.text();
    expect(text).toMatch(/^This link is broken/);
    expect(text).not.toMatch(/CID|bafkrei|sha2-256/);
    // What it echoes of the path is clipped: a huge path does not come back whole.
    expect(text.length).toBeLessThan(400);
  });

  it('answers JSON to a caller that asks for it', async () => {
    const { request, url } = at('/content/sha256-xyz', 'application/json');
    const answer = contentHashOf(request, url) as Response;
    expect(answer.headers.get('Content-Type')).toBe('application/json');
    expect(await answer.json()).toMatchObject({ status: 400, message: /This link is broken/ });
  });
});

describe('openFailed: what /content/ answers when the app could not open the item', () => {
  it('answers 404 with the search in plain words when nobody holds it', async () => {
    const { request } = at(`/content/sha256-${HEX}`);
    const nobody = 'Asked 2 peers and the doorway; nobody holds it.';
    const answer = openFailed(request, named('NoHoldersError', nobody));
    expect(answer.status).toBe(404);
    expect(await answer.text()).toBe(`This item could not be found. ${nobody}\n`);
  });

  it('answers 404 when no tab of the app is open to ask', () => {
    const { request } = at(`/content/sha256-${HEX}`);
    expect(openFailed(request, named('NoWindowError', 'no tab')).status).toBe(404);
  });

  it('answers 502 for any other failure, saying so', async () => {
    const { request } = at(`/content/sha256-${HEX}`);
    const answer = openFailed(request, new Error('every holder failed'));
    expect(answer.status).toBe(502);
    expect(await answer.text()).toMatch(/could not be fetched: every holder failed/);
  });

  it('ends a request that went away quietly', () => {
    const controller = new AbortController();
    controller.abort();
    const request = new Request('https://elohim.test/content/x', { signal: controller.signal });
    expect(openFailed(request, controller.signal.reason).status).toBe(503);
  });
});
