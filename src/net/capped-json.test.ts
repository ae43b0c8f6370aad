import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, readCappedJson } from './capped-json.ts';

const CAP = 64 * 1024;
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
});

/** A server on 127.0.0.1 answering every request with `answer`; its URL. */
async function serve(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => answer(res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/**
 * Sends 64 KiB chunks (no Content-Length: chunked) until the client stops reading, at most
 * `limit` bytes; `sent()` says how many it handed to the socket.
 */
function flood(limit: number) {
  let sent = 0;
  return {
    sent: () => sent,
    answer(res: ServerResponse) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const push = () => {
        while (sent < limit && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', push);
        }
        res.end();
      };
      push();
    },
  };
}

describe('readCappedJson', () => {
  it('parses a body within the cap, and answers null for a body-less response', async () => {
    const url = await serve((res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: 'é', n: [1, 2] }));
    });
    expect(await readCappedJson(await fetch(url), CAP)).toEqual({ ok: 'é', n: [1, 2] });
    expect(await readCappedJson(new Response(null), CAP)).toBeNull();
  });

  it('refuses a declared Content-Length over the cap without reading the body', async () => {
    let reads = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        reads++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = new Response(body, { headers: { 'content-length': String(CAP + 1) } });
    // Let the stream fill its queue first (one pull), so a read would show as more pulls.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const before = reads;
    await expect(readCappedJson(response, CAP)).rejects.toThrow(BodyTooLargeError);
    expect(reads).toBe(before);
  });

  it('stops reading an undeclared (chunked) body as soon as it passes the cap', async () => {
    // 64 MiB the server would send if the reader kept going.
    const sender = flood(64 * 1024 * 1024);
    const url = await serve(sender.answer);
    const error = await readCappedJson(await fetch(url), CAP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect((error as Error).message).toContain(`more than ${CAP} bytes`);
    // Socket buffers let some more out before the cancel is felt, never the whole body.
    expect(sender.sent()).toBeLessThan(16 * 1024 * 1024);
  });
});
