import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../log.ts';
import { rejectUpgrade } from './upgrade.ts';

/** Request headers not passed to the conductor: the doorway's own session travels no further. */
const DROPPED_HEADERS = new Set(['host', 'cookie', 'authorization']);

/**
 * Proxy mode: forwards an app websocket upgrade to a real conductor's app interface and then
 * pipes the two TCP streams, so every byte (handshake answer, frames, close) passes unchanged.
 * The request line is rewritten to the conductor's path and query, and Host to its host; the
 * browser's other headers (Origin, Sec-WebSocket-*) go through as sent.
 */
export class ConductorProxy {
  private readonly open = new Set<Socket>();

  constructor(
    readonly target: URL,
    private readonly log: Logger,
  ) {}

  forward(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const secure = this.target.protocol === 'wss:';
    const host = this.target.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.target.port || (secure ? 443 : 80));
    const upstream: Socket = secure
      ? tlsConnect({ host, port, servername: host })
      : netConnect({ host, port });
    this.open.add(upstream);
    let connected = false;
    upstream.once(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      const lines = [
        `GET ${this.target.pathname}${this.target.search} HTTP/1.1`,
        `Host: ${this.target.host}`,
      ];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] as string;
        if (!DROPPED_HEADERS.has(name.toLowerCase()))
          lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error) => {
      this.log.error(`hc proxy: conductor at ${this.target.origin}: ${error.message}`);
      if (!connected) {
        rejectUpgrade(
          client,
          502,
          `the Holochain conductor at ${this.target.origin} does not answer`,
        );
      } else {
        client.destroy();
      }
    });
    upstream.on('close', () => {
      this.open.delete(upstream);
      client.destroy();
    });
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  }

  close(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}
