import { createRequire } from 'node:module';

/**
 * @libp2p/websockets dials with the global `WebSocket`, which Node has only from 22 on (Node 20:
 * behind `--experimental-websocket`): a Node peer dialling a doorway (or a doorway another one)
 * needs it. On Node 20 this installs the `ws` package's client (already present:
 * @libp2p/websockets' listener is built on it) as the global.
 */
if (typeof globalThis.WebSocket !== 'function') {
  const { WebSocket } = createRequire(import.meta.url)('ws') as {
    WebSocket: typeof globalThis.WebSocket;
  };
  Object.defineProperty(globalThis, 'WebSocket', {
    configurable: true,
    writable: true,
    value: WebSocket,
  });
}
