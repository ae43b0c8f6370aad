export interface Logger {
  info(message: string): void;
  debug(message: string): void;
  error(message: string): void;
}

export function createLogger(level: 'silent' | 'info' | 'debug'): Logger {
  const stamp = () => new Date().toISOString();
  return {
    info: (m) => level !== 'silent' && console.log(`${stamp()} info  ${m}`),
    debug: (m) => level === 'debug' && console.log(`${stamp()} debug ${m}`),
    error: (m) => console.error(`${stamp()} error ${m}`),
  };
}
