import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import {
  type AllowedOrigins,
  type ConductorInterfacesConfig,
  DOORWAY_ADMIN_ORIGIN,
} from '../holochain/index.ts';

/** What `npm run conductor` can be told: flags first, then environment, then defaults. */
export type ConductorConfig = Omit<ConductorInterfacesConfig, 'limits'> & {
  logLevel: 'silent' | 'info' | 'debug';
};

export const HELP = `Usage: conductor [options]   (npm run conductor -- [options])

The Holochain conductor EMULATOR as its own process: an admin and an app websocket interface,
for doorways in proxy mode (--hc-conductor <app ws url> --hc-admin <admin ws url>).

Options (environment variable in brackets):
  --host <ip>            interface both listen on [ELOHIM_CONDUCTOR_HOST]  default 127.0.0.1
  --admin-port <n>       admin interface; 0 picks a free one [ELOHIM_CONDUCTOR_ADMIN_PORT]
                         default 4444
  --app-port <n>         app interface; 0 picks a free one [ELOHIM_CONDUCTOR_APP_PORT]
                         default 4445
  --data-dir <dir>       state (hc-emulator.sqlite) [ELOHIM_CONDUCTOR_DATA_DIR]  default .conductor
  --admin-origins <list> Origin headers the admin interface accepts, comma-separated, or *
                         [ELOHIM_CONDUCTOR_ADMIN_ORIGINS]  default ${DOORWAY_ADMIN_ORIGIN} (what doorways send)
  --app-origins <list>   the same for the app interface [ELOHIM_CONDUCTOR_APP_ORIGINS]  default *
  --log-level <lvl>      silent | info | debug [ELOHIM_LOG_LEVEL]  default info
  --help                 show this text

Once both interfaces listen it prints one line of JSON:
  {"conductor":"ready","host":"127.0.0.1","admin_port":4444,"app_port":4445}
The admin interface has no authentication (as a conductor's): keep it on loopback or a
private network, and list only the origins of the doorways that use it.
`;

export class ConductorConfigError extends Error {
  override name = 'ConductorConfigError';
}

function port(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0 || value > 65535) {
    throw new ConductorConfigError(`${flag} must be a port from 0 to 65535, got "${text}"`);
  }
  return value;
}

function origins(flag: string, text: string): AllowedOrigins {
  if (text.trim() === '*') return '*';
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new ConductorConfigError(`${flag} must name origins or be *`);
  return list;
}

export function loadConductorConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): ConductorConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      'admin-port': { type: 'string' },
      'app-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'admin-origins': { type: 'string' },
      'app-origins': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const host = values.host ?? env.ELOHIM_CONDUCTOR_HOST ?? '127.0.0.1';
  if (!isIP(host)) throw new ConductorConfigError(`--host must be an IP address, got "${host}"`);
  const logLevel = values['log-level'] ?? env.ELOHIM_LOG_LEVEL ?? 'info';
  if (logLevel !== 'silent' && logLevel !== 'info' && logLevel !== 'debug') {
    throw new ConductorConfigError(`--log-level must be silent, info or debug, got "${logLevel}"`);
  }
  const dataDir = values['data-dir'] ?? env.ELOHIM_CONDUCTOR_DATA_DIR ?? '.conductor';
  if (dataDir.trim() === '') throw new ConductorConfigError('--data-dir must not be empty');
  return {
    host,
    adminPort: port(
      '--admin-port',
      values['admin-port'] ?? env.ELOHIM_CONDUCTOR_ADMIN_PORT ?? '4444',
    ),
    appPort: port('--app-port', values['app-port'] ?? env.ELOHIM_CONDUCTOR_APP_PORT ?? '4445'),
    dataDir,
    adminOrigins: origins(
      '--admin-origins',
      values['admin-origins'] ?? env.ELOHIM_CONDUCTOR_ADMIN_ORIGINS ?? DOORWAY_ADMIN_ORIGIN,
    ),
    appOrigins: origins(
      '--app-origins',
      values['app-origins'] ?? env.ELOHIM_CONDUCTOR_APP_ORIGINS ?? '*',
    ),
    logLevel,
  };
}
