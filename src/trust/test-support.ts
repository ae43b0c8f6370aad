/**
 * Test helpers: the doorway's trust layer (the conductor EMULATOR) on 127.0.0.1, restartable on
 * the same data dir and port — a doorway going away and coming back.
 */
import type { PrivateKey } from '@libp2p/interface';
import {
  sharedTrustServer,
  startTrustServer,
  type TrustServer,
} from '../../doorway/holochain/test-support.ts';
import { type AgentKey, agentKeyFromEd25519 } from '../reach/index.ts';
import { deviceCertificateTerms, signDeviceTerms } from './devices.ts';
import type { TrustClient } from './types.ts';

export type TestDoorway = Pick<TrustServer, 'url' | 'port' | 'peerId' | 'close'>;

/** Starts the `/hc` routes and app websocket; `port` 0 picks a free one. */
export function startTestDoorway(dataDir: string, port = 0): Promise<TestDoorway> {
  return startTrustServer({ dataDir, hcConductor: undefined, hcDevTokens: true }, port);
}

/**
 * A test doorway on a temporary data dir (named after `prefix`) for the tests of the file or
 * describe block this is called in: started before all of them; stopped, and its dir removed,
 * after all of them. The getter gives it to the tests.
 */
export const sharedTestDoorway: (prefix: string) => () => TestDoorway = sharedTrustServer;

/** `agentKey`'s person certifies `deviceKey` as one of its devices (both sign), through `client`. */
export async function certifyDevice(
  client: TrustClient,
  agentKey: PrivateKey,
  deviceKey: PrivateKey,
  name = 'Laptop',
): Promise<AgentKey> {
  const device = agentKeyFromEd25519(deviceKey.publicKey.raw);
  const addedAt = Date.now();
  const terms = deviceCertificateTerms(client.me, device, name, addedAt);
  await client.addDevice({
    agent: client.me,
    device,
    name: terms.name,
    addedAt,
    signature: await signDeviceTerms(agentKey, terms),
    deviceSignature: await signDeviceTerms(deviceKey, terms),
  });
  return device;
}
