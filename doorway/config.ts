import { parseArgs } from 'node:util';

/** Everything the doorway can be told, from flags first, then environment, then defaults. */
export interface DoorwayConfig {
  host: string;
  /** 0 asks the OS for a free port (tests use this). */
  port: number;
  /** Folder holding the built PWA (`vite build` output). */
  staticDir: string;
  logLevel: 'silent' | 'info' | 'debug';
}

const HELP = `Usage: doorway [options]

Options (environment variable in brackets):
  --host <addr>       interface to listen on [ELOHIM_HOST]        default 127.0.0.1
  --port <n>          port; 0 picks a free one [ELOHIM_PORT]      default 8080
  --static <dir>      built app to serve [ELOHIM_STATIC_DIR]      default dist
  --log-level <lvl>   silent | info | debug [ELOHIM_LOG_LEVEL]    default info
  --help              show this text
`;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): DoorwayConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const portText = values.port ?? env.ELOHIM_PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--port must be an integer from 0 to 65535, got "${portText}"`);
  }
  const logLevel = values['log-level'] ?? env.ELOHIM_LOG_LEVEL ?? 'info';
  if (logLevel !== 'silent' && logLevel !== 'info' && logLevel !== 'debug') {
    throw new ConfigError(`--log-level must be silent, info or debug, got "${logLevel}"`);
  }
  return {
    host: values.host ?? env.ELOHIM_HOST ?? '127.0.0.1',
    port,
    staticDir: values.static ?? env.ELOHIM_STATIC_DIR ?? 'dist',
    logLevel,
  };
}

export { HELP };
