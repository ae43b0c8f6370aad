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

/**
 * Keeps the process up when an `AbortError` escapes on its own: libp2p modules (kad-dht's
 * query paths under load) end an operation from inside an abort listener, and what such a
 * listener throws reaches no caller. That operation is already over; ending every other
 * connection and request for it would let a peer that times out its queries stop the doorway.
 * Anything else still ends the process, as Node would.
 */
export function surviveStrayAborts(log: Logger): void {
  const uncaught = (error: unknown) => {
    if ((error as Error | undefined)?.name === 'AbortError') {
      log.error(`an operation's abort escaped (ignored): ${(error as Error).stack ?? error}`);
      return;
    }
    log.error(`uncaught: ${(error as Error | undefined)?.stack ?? String(error)}`);
    process.exit(1);
  };
  process.on('uncaughtException', uncaught);
}
