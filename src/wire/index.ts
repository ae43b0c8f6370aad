/**
 * The layer below net, sync and trust: abort and deadline helpers, the one event mechanism
 * and the one logger. Import from here only.
 */
export {
  type AbortOptions,
  abortReason,
  type Deadline,
  deadline,
  throwIfAborted,
  withTimeout,
} from './abort.ts';
export { listen, TypedEventEmitter, type TypedEventTarget } from './events.ts';
export { type Logger, logger } from './log.ts';
export * from './trust.ts';
