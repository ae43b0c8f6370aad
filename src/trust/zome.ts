/** What the zome wrappers (content-servers.ts, people.ts, cluster-grants.ts) share. */
import type { MyRecordsFunction, TrustFunction, TrustInput, TrustOutput } from '../wire/index.ts';
import type { CallOptions } from './types.ts';

/** A typed zome call (the role follows from the function); the connection makes them. */
export interface ZomeCalls {
  call<F extends TrustFunction>(
    fn: F,
    payload: TrustInput<F>,
    signal?: AbortSignal,
  ): Promise<TrustOutput<F>>;
}

type RecordOf<F extends MyRecordsFunction> =
  TrustOutput<F> extends readonly (infer R)[] ? R : never;

/**
 * This agent's own records from a `get_my_*` function, each as the page sees it; a record
 * `toPage` makes nothing of (undefined) is left out.
 */
export async function myRecords<F extends MyRecordsFunction, T>(
  zome: ZomeCalls,
  fn: F,
  toPage: (record: RecordOf<F>) => T | undefined,
  options: CallOptions,
): Promise<T[]> {
  const records = (await zome.call(fn, null as TrustInput<F>, options.signal)) as RecordOf<F>[];
  return records.flatMap((record) => {
    const page = toPage(record);
    return page === undefined ? [] : [page];
  });
}

/** A wire timestamp (µs since the epoch) as the page's (ms). */
export const ms = (micros: number) => Math.floor(micros / 1000);
