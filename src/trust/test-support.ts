/**
 * Test helpers: the doorway's trust layer (the conductor EMULATOR) on 127.0.0.1, restartable on
 * the same data dir and port — a doorway going away and coming back.
 */
import { startTrustServer, type TrustServer } from '../../doorway/holochain/test-support.ts';

export type TestDoorway = Pick<TrustServer, 'url' | 'port' | 'peerId' | 'close'>;

/** Starts the `/hc` routes and app websocket; `port` 0 picks a free one. */
export function startTestDoorway(dataDir: string, port = 0): Promise<TestDoorway> {
  return startTrustServer({ dataDir, hcConductor: undefined, hcDevTokens: true }, port);
}
