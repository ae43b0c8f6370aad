import { ConfigError, HELP, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { MissingBuildError, startDoorway } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const log = createLogger(config.logLevel);
  const doorway = await startDoorway(config, log);
  // Tests and scripts read this exact line to find the port.
  console.log(`Elohim doorway ready at ${doorway.url}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info(`${signal} received, closing`);
    await doorway.close();
    log.info('closed');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof MissingBuildError) {
    console.error(`doorway: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
