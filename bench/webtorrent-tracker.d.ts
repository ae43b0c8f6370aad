/** The part of `bittorrent-tracker` (no types of its own) the webtorrent bench uses. */
declare module 'bittorrent-tracker' {
  import type { AddressInfo } from 'node:net';

  export class Server {
    constructor(opts: { udp: boolean; http: boolean; ws: boolean; stats: boolean });
    ws: { address(): AddressInfo };
    listen(port: number, hostname: string, onlistening: () => void): void;
    close(cb: () => void): void;
    once(event: 'error', listener: (error: Error) => void): this;
    on(event: 'warning', listener: (error: Error) => void): this;
  }
}
