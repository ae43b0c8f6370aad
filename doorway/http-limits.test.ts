import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { devToken, newKey } from './holochain/test-support.ts';
import { startTestDoorway } from './test-support.ts';

const TIMEOUT_MS = 1_000;

/** Resolves with the ms from now until the server closes `socket`, or undefined after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<number | undefined> {
  const start = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.on('data', () => {}); // a 408 may come first; what counts is the close
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

/** Sends `head` at once, then one byte every 100 ms until the server closes the connection. */
async function dribble(url: string, head: string): Promise<number | undefined> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(head);
  const ticker = setInterval(() => socket.writable && socket.write('a'), 100);
  try {
    // Well past the timeout, well short of Node's own defaults (60 s headers, 300 s request).
    return await closedWithin(socket, TIMEOUT_MS + 4_000);
  } finally {
    clearInterval(ticker);
    socket.destroy();
  }
}

/** One request over node:http (fetch refuses TRACE): status and headers. */
function ask(url: string, method: string, path: string) {
  return new Promise<{ status: number; allow?: string; body: string }>((resolve, reject) => {
    const req = request(new URL(path, url), { method }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('doorway HTTP limits', () => {
  let door: Awaited<ReturnType<typeof startTestDoorway>>;

  beforeAll(async () => {
    door = await startTestDoorway(
      { httpRequestTimeoutMs: TIMEOUT_MS },
      {
        'assets/app-1234.js': 'console.log(1)',
        'assets/app-1234.js.map': '{"sources":["secret.ts"]}',
        'sw.js': 'self.x = 1',
        'sw.js.map': '{"sources":["sw.ts"]}',
      },
    );
  });
  afterAll(async () => {
    await door?.stop();
  });

  it('cuts a request whose body trickles in, within the request timeout', async () => {
    const url = door.doorway.url;
    const host = new URL(url).host;
    const closedAfter = await dribble(
      url,
      `POST /hc/dev/token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
    expect(closedAfter).toBeDefined();
    expect(closedAfter).toBeLessThan(TIMEOUT_MS + 2_000);
  });

  it('cuts a request whose headers trickle in, within the request timeout', async () => {
    const closedAfter = await dribble(door.doorway.url, 'GET / HTTP/1.1\r\nX-Slow: ');
    expect(closedAfter).toBeDefined();
    expect(closedAfter).toBeLessThan(TIMEOUT_MS + 2_000);
  });

  it('closes a connection left idle', async () => {
    const { hostname, port } = new URL(door.doorway.url);
    const socket = connect(Number(port), hostname);
    expect(await closedWithin(socket, TIMEOUT_MS + 4_000)).toBeDefined();
  });

  it('leaves an idle app websocket open: it is no longer an HTTP request', async () => {
    const { port } = new URL(door.doorway.url);
    const jwt = await devToken(door.doorway.url.replace(/\/$/, ''), newKey());
    const ws = new WebSocket(`ws://127.0.0.1:${port}/hc/app/${port}?token=${jwt}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      // Three times as long as an idle HTTP connection lasts (the test above).
      const outcome = await Promise.race([
        closed.then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('open'), 3 * TIMEOUT_MS)),
      ]);
      expect(outcome).toBe('open');
    } finally {
      ws.close();
    }
  });

  it('answers only GET and HEAD on the app, with Allow', async () => {
    for (const path of ['/', '/index.html', '/assets/app-1234.js', '/sw.js', '/some/route']) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'OPTIONS']) {
        const answer = await ask(door.doorway.url, method, path);
        expect(answer, `${method} ${path}`).toMatchObject({ status: 405, allow: 'GET, HEAD' });
      }
      expect((await ask(door.doorway.url, 'GET', path)).status).toBe(200);
      expect((await ask(door.doorway.url, 'HEAD', path)).status).toBe(200);
    }
    // A route's own methods are still its own: a wrong one names them.
    expect(await ask(door.doorway.url, 'TRACE', '/health')).toMatchObject({
      status: 405,
      allow: 'GET, HEAD',
    });
  });

  it('never serves a source map', async () => {
    for (const path of ['/sw.js.map', '/assets/app-1234.js.map', '/missing.js.map']) {
      const answer = await ask(door.doorway.url, 'GET', path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toContain('sources');
    }
  });
});
