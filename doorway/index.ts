export { type DoorwayConfig, loadConfig } from './config.ts';
export { createLogger, type Logger } from './log.ts';
export { type Doorway, MissingBuildError, startDoorway } from './server.ts';
