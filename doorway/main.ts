// Must come first: libp2p needs Promise.withResolvers, which Node 20 lacks.
import './polyfills.ts';
import { IdentityError } from '../src/identity/node.ts';
import { ConfigError, HELP, loadConfig } from './config.ts';
import { StoreError, TokenError } from './holochain/index.ts';
import { createLogger } from './log.ts';
import { closeOnSignals, surviveStrayAborts } from './process.ts';
import { MissingBuildError, startDoorway } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const log = createLogger(config.logLevel);
  surviveStrayAborts(log);
  const doorway = await startDoorway(config, log);

  closeOnSignals(log, () => doorway.close());

  // libp2p and HTTP both listen by now. Tests and scripts read these exact lines.
  for (const addr of doorway.p2p.multiaddrs()) console.log(`Elohim doorway relay at ${addr}`);
  console.log(`Elohim doorway ready at ${doorway.url}`);
  // For a person at a terminal, the address to open stands last and apart (scripts, reading
  // a pipe, get the two lines above and nothing else).
  if (process.stdout.isTTY) {
    console.log(`\n  Open ${doorway.url} in your browser. Ctrl+C stops the doorway.\n`);
  }
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof MissingBuildError ||
    error instanceof IdentityError ||
    error instanceof StoreError ||
    error instanceof TokenError
  ) {
    console.error(`doorway: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
