/** What the doorway's and the conductor's `main` share: how a server process ends. */
import type { Logger } from './log.ts';

/**
 * On SIGINT or SIGTERM, closes the server (once, however many signals arrive) and exits: 0 when
 * it closed cleanly, 1 when closing failed.
 */
export function closeOnSignals(log: Logger, close: () => Promise<void>): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info(`${signal} received, closing`);
    try {
      await close();
      log.info('closed');
      process.exit(0);
    } catch (error) {
      log.error(`while closing: ${(error as Error)?.stack ?? String(error)}`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
