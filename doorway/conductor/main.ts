// The Holochain conductor EMULATOR as its own process (`npm run conductor`): what doorways in
// proxy mode stand in front of. See doorway/holochain/README.md, "The emulator as a process".
import { StoreError, startConductorInterfaces } from '../holochain/index.ts';
import { createLogger } from '../log.ts';
import { closeOnSignals } from '../process.ts';
import { ConductorConfigError, HELP, loadConductorConfig } from './config.ts';

async function main(): Promise<void> {
  const config = loadConductorConfig(process.argv.slice(2), process.env);
  if (config === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const log = createLogger(config.logLevel);
  const conductor = await startConductorInterfaces(config, log);

  closeOnSignals(log, () => conductor.close());

  // Tests and scripts read this exact line: the ports actually bound (0 asks for free ones).
  console.log(
    JSON.stringify({
      conductor: 'ready',
      host: conductor.host,
      admin_port: conductor.adminPort,
      app_port: conductor.appPort,
    }),
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConductorConfigError || error instanceof StoreError) {
    console.error(`conductor: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
