/**
 * The event log (`event-log.ts`) in one append-only file, for a Node peer (a doorway), which
 * has no IndexedDB. Kept out of `index.ts` (it needs `node:fs`); `node.ts` exports it.
 *
 * Each record is `[payload length: u32 BE][CRC-32 of the payload: u32 BE][payload]`, the
 * payload UTF-8 JSON, one of:
 *  - `{"local": SyncEvent}`: the next local event;
 *  - `{"remote": origin, "rows": [StoredRemoteEvent…], "contiguous": n}`: one `addRemote`
 *    batch and the origin's cursor after it (a batch is one record: all or nothing).
 * Records are only ever appended, so a process killed mid-write can tear only the last one.
 * Opening reads the records in order into memory; the first one that is cut short, over
 * {@link MAX_RECORD_BYTES} (checked before it is read), fails its checksum or is not a record
 * ends the log: the file is truncated there (and the loss logged), so what follows is appended
 * after the good records. A failed append is cut off again at once, so it never leaves bytes
 * that would end the log early at the next open.
 *
 * One process owns the file (the doorway owns its data directory); appends are serialised,
 * each flushed to disk (`datasync`) before its event is reported stored. The whole log is held
 * in memory: a doorway's log grows with the edits of the commons descriptions it keeps.
 */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { logger, TypedEventEmitter } from '../wire/index.ts';
import { type EventKind, isSyncEvent, type SyncEvent } from './codec.ts';
import { SyncClosedError } from './errors.ts';
import {
  assertSameEvent,
  type EventLog,
  type EventLogEvents,
  type StoredRemoteEvent,
} from './event-log.ts';

const log = logger('sync');

/** The largest record read or written: a batch of 500 events (the largest page) is ~150 KiB. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
const HEADER_BYTES = 8;

type RemoteRecord = { remote: string; rows: StoredRemoteEvent[]; contiguous: number };
type LogRecord = { local: SyncEvent } | RemoteRecord;

function isRecord(v: unknown): v is LogRecord {
  const r = v as Partial<{ local: unknown } & RemoteRecord> | null;
  if (typeof r !== 'object' || r === null) return false;
  if ('local' in r) return isSyncEvent(r.local);
  return (
    typeof r.remote === 'string' &&
    Number.isSafeInteger(r.contiguous) &&
    Array.isArray(r.rows) &&
    r.rows.every((row) => isSyncEvent(row) && row.origin === r.remote)
  );
}

/** A record's bytes: header, then payload. */
function encodeRecord(record: LogRecord): Uint8Array {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  if (payload.length > MAX_RECORD_BYTES) {
    throw new RangeError(
      `An event-log record of ${payload.length} bytes is over the cap of ${MAX_RECORD_BYTES}: ` +
        'store the events in smaller batches.',
    );
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** Reads the good records from the start; returns them and where the good part ends. */
async function readRecords(
  file: FileHandle,
  size: number,
): Promise<{ records: LogRecord[]; end: number; why?: string }> {
  const records: LogRecord[] = [];
  const header = Buffer.alloc(HEADER_BYTES);
  let at = 0;
  while (at < size) {
    if (size - at < HEADER_BYTES) return { records, end: at, why: 'a record header is cut short' };
    await file.read(header, 0, HEADER_BYTES, at);
    const length = header.readUInt32BE(0);
    if (length > MAX_RECORD_BYTES) {
      return { records, end: at, why: `a record claims ${length} bytes, over the cap` };
    }
    if (size - at - HEADER_BYTES < length)
      return { records, end: at, why: 'a record is cut short' };
    const payload = Buffer.alloc(length);
    await file.read(payload, 0, length, at + HEADER_BYTES);
    if (crc32(payload) !== header.readUInt32BE(4)) {
      return { records, end: at, why: 'a record fails its checksum' };
    }
    let record: unknown;
    try {
      record = JSON.parse(payload.toString('utf8'));
    } catch {
      record = undefined;
    }
    if (!isRecord(record)) return { records, end: at, why: 'a record is not an event-log record' };
    records.push(record);
    at += HEADER_BYTES + length;
  }
  return { records, end: at };
}

const changeKey = (docId: string, changeHash: string) => `${docId}\n${changeHash}`;

export class FileEventLog extends TypedEventEmitter<EventLogEvents> implements EventLog {
  readonly #local: SyncEvent[] = [];
  readonly #byChange = new Map<string, SyncEvent>();
  readonly #remote = new Map<string, Map<number, StoredRemoteEvent>>();
  readonly #cursors = new Map<string, number>();
  readonly #docs = new Set<string>();
  #size: number;
  /** Appends (and their in-memory effect) one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    private readonly file: FileHandle,
    size: number,
  ) {
    super();
    this.#size = size;
  }

  /** Opens (creating it and its directory if needed) the log in `file`. */
  static async open(opts: { file: string }): Promise<FileEventLog> {
    await mkdir(dirname(opts.file), { recursive: true, mode: 0o700 });
    const handle = await open(opts.file, 'a+', 0o600).then(async (h) => {
      // 'a+' creates it; 'r+' lets writes go where we say (after the good records).
      await h.close();
      return open(opts.file, 'r+');
    });
    try {
      const { size } = await handle.stat();
      const { records, end, why } = await readRecords(handle, size);
      if (why) {
        log.error(
          'the sync event log %s ends at byte %d: %s; the %d bytes after it are dropped',
          opts.file,
          end,
          why,
          size - end,
        );
        await handle.truncate(end);
        await handle.datasync();
      }
      const eventLog = new FileEventLog(handle, end);
      for (const record of records) eventLog.#apply(record);
      return eventLog;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  close(): void {
    this.#closed = true;
    // Closed once the appends under way have ended.
    void this.#queue.finally(() => this.file.close()).catch(() => {});
  }

  #apply(record: LogRecord): void {
    if ('local' in record) {
      const e = record.local;
      this.#local.push(e);
      this.#byChange.set(changeKey(e.doc_id, e.change_hash), e);
      this.#docs.add(e.doc_id);
      return;
    }
    let rows = this.#remote.get(record.remote);
    if (!rows) {
      rows = new Map();
      this.#remote.set(record.remote, rows);
    }
    for (const row of record.rows) {
      rows.set(row.position, row);
      this.#docs.add(row.doc_id);
    }
    this.#cursors.set(record.remote, record.contiguous);
  }

  /** Runs `step` after the appends before it; `step` decides, appends and applies. */
  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed)
        throw new SyncClosedError('This event log is closed: open it again to use it.');
      return step();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #append(record: LogRecord): Promise<void> {
    const bytes = encodeRecord(record);
    try {
      await this.file.write(bytes, 0, bytes.length, this.#size);
      await this.file.datasync();
    } catch (error) {
      // Cut off what part of it was written, so the next record follows the good ones.
      await this.file.truncate(this.#size).catch(() => {});
      throw error;
    }
    this.#size += bytes.length;
    this.#apply(record);
  }

  appendLocal(docId: string, changeHash: string, timestamp = Date.now()) {
    return this.#serial(async () => {
      if (this.#byChange.has(changeKey(docId, changeHash))) return undefined;
      const event: SyncEvent = {
        position: this.#local.length + 1,
        doc_id: docId,
        change_hash: changeHash,
        kind: 'Local',
        timestamp,
      };
      await this.#append({ local: event });
      this.safeDispatchEvent('stored', {
        detail: { event, kind: 'Local', origin: undefined, here: true },
      });
      return event;
    });
  }

  async localHead(): Promise<number> {
    return this.#local.length;
  }

  async localSince(since: number, limit: number) {
    const from = Math.max(0, Math.floor(since));
    const events = this.#local.slice(from, from + limit);
    return { events, hasMore: this.#local.length > from + limit };
  }

  async localEventFor(docId: string, changeHash: string) {
    return this.#byChange.get(changeKey(docId, changeHash));
  }

  async contiguous(origin: string): Promise<number> {
    return this.#cursors.get(origin) ?? 0;
  }

  async remoteEvent(origin: string, position: number) {
    return this.#remote.get(origin)?.get(position);
  }

  async remoteEvents(origin: string): Promise<StoredRemoteEvent[]> {
    const rows = [...(this.#remote.get(origin)?.values() ?? [])];
    return rows.sort((a, b) => a.position - b.position);
  }

  addRemote(
    origin: string,
    events: readonly { event: SyncEvent; kind: Exclude<EventKind, 'Local'> }[],
    covers?: { after: number; through: number },
  ): Promise<StoredRemoteEvent[]> {
    return this.#serial(async () => {
      const stored = this.#remote.get(origin);
      const added = new Map<number, StoredRemoteEvent>();
      const now = Date.now();
      for (const { event, kind } of events) {
        const existing = stored?.get(event.position) ?? added.get(event.position);
        if (existing) {
          assertSameEvent(origin, existing, event);
          continue;
        }
        added.set(event.position, { ...event, kind, origin, received_at: now });
      }
      const has = (p: number) => stored?.has(p) === true || added.has(p);
      const start = this.#cursors.get(origin) ?? 0;
      let contiguous = start;
      if (covers && covers.after <= contiguous) contiguous = Math.max(contiguous, covers.through);
      while (has(contiguous + 1)) contiguous++;
      const rows = [...added.values()];
      if (rows.length > 0 || contiguous !== start) {
        await this.#append({ remote: origin, rows, contiguous });
      }
      for (const row of rows) {
        this.safeDispatchEvent('stored', {
          detail: { event: row, kind: row.kind, origin, here: true },
        });
      }
      return rows;
    });
  }

  async knowsDoc(docId: string): Promise<boolean> {
    return this.#docs.has(docId);
  }

  async knownDocs(): Promise<string[]> {
    return [...this.#docs].sort();
  }
}
