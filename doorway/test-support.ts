import { join } from 'node:path';
import type { DoorwayConfig } from './config.ts';

/** A doorway config for tests: loopback, free ports, state kept in `<dir>/state`. */
export function testConfig(dir: string, overrides: Partial<DoorwayConfig> = {}): DoorwayConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    staticDir: dir,
    logLevel: 'silent',
    p2pHost: '127.0.0.1',
    p2pPort: 0,
    p2pAnnounce: [],
    dataDir: join(dir, 'state'),
    relayDataLimit: 128 * 1024,
    relayDurationLimit: 120,
    relayMaxReservations: 16,
    hcConductor: undefined,
    hcDevTokens: true,
    ...overrides,
  };
}
