/**
 * Typed errors of fetching content from peers. Messages say what happened and what to do,
 * because they reach the UI (and the service worker's /content/ route) unchanged.
 */
import { ElohimError } from '../wire/index.ts';
import { describeNobody, type SearchProgress } from './search.ts';

export class FetchError extends ElohimError.named('FetchError') {}

/** Nobody we can reach holds the hash; `search` says whom a fetch asked. */
export class NoHoldersError extends FetchError.named('NoHoldersError') {
  constructor(
    readonly hash: string,
    readonly search?: SearchProgress,
  ) {
    super(
      search
        ? describeNobody(search)
        : `No connected peer holds ${hash}. Ask someone who has it to open the app, then try again.`,
    );
  }
}

/**
 * Every holder failed before the blob was complete — or, with no `reasons`, none failed but
 * those reached hold too little of it (shards of an rs-4-7 item: any 4 of 7 rebuild it).
 */
export class AllHoldersFailedError extends FetchError.named('AllHoldersFailedError') {
  constructor(
    readonly hash: string,
    readonly reasons: string[],
  ) {
    super(
      (reasons.length > 0
        ? `Every peer holding ${hash} failed before the transfer finished (${reasons.join('; ')}). `
        : `The peers that could be reached hold only part of ${hash}, too little to rebuild it. `) +
        'Try again when more holders are online.',
    );
  }
}
