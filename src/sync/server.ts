/**
 * The answering side of `/elohim/positions/1.0.0`: SyncRequest pages of this peer's own Local
 * events, DocRequests for the documents it shares, and the Announces peers push (handed to
 * the service). Each request on a stream gets its answer, in order; a refused one gets
 * `{"Error": message}`, and an oversized or truncated frame ends the stream after saying why.
 *
 * Reach: a peer gets only the events and documents `mayReceive` admits. The events of other
 * documents are left out of its pages (gaps in the positions it sees) and a DocRequest for
 * such a document is answered exactly as one for a document never seen.
 */
import { getChangesSince, type getHeads, hasHeads } from '@automerge/automerge/slim';
import { type DocumentId, isValidDocumentId } from '@automerge/automerge-repo/slim';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { errorMessage, FrameReader, writeFrame } from '../wire/index.ts';
import { encodeOrRefuse, endFailedStream } from './answering.ts';
import {
  decodeSyncRequest,
  encodeSyncMessage,
  POSITIONS_PROTOCOL,
  type SyncEvent,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
import { LimitOutOfRangeError, PositionOutOfRangeError, UnknownDocumentError } from './errors.ts';
import type { EventLog } from './event-log.ts';
import { timeLimit } from './flow.ts';

export type Doc = Parameters<typeof getHeads>[0];

/** What answering needs of the service (`protocol.ts` provides `stopping`). */
export interface SyncServerContext {
  readonly log: EventLog;
  readonly maxFrameBytes: number;
  readonly maxLimit: number;
  /** Per request, and per write while answering. */
  readonly timeoutMs: number;
  /** Aborts when the service stops. */
  readonly stopping: AbortSignal;
  /** Whether this peer shares `docId` at all (it records its edits, or its log names it). */
  shares(docId: DocumentId): Promise<boolean>;
  /** The document, loaded; rejects when it cannot be. */
  load(docId: DocumentId, signal: AbortSignal): Promise<Doc>;
  /** The audience's answer (never throws). */
  mayReceive(peer: PeerId, docId: string): Promise<boolean>;
  receiveAnnounce(peer: string, event: SyncEvent): Promise<void>;
  report(error: unknown, peer: string, op: string): void;
}

/** The protocol handler: answers every request on the stream until the peer ends it. */
export function syncHandler(
  ctx: SyncServerContext,
): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const remote = connection.remotePeer;
    const peer = remote.toString();
    const reader = new FrameReader(stream);
    const send = (answer: SyncResponseMessage) =>
      writeFrame(
        stream,
        encodeOrRefuse(answer, (a) => encodeSyncMessage(a, ctx.maxFrameBytes)),
        { timeoutMs: ctx.timeoutMs },
      );
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: ctx.maxFrameBytes });
        if (payload === undefined) break;
        let answer: SyncResponseMessage | undefined;
        try {
          answer = await answerRequest(ctx, remote, decodeSyncRequest(payload));
        } catch (e) {
          ctx.report(e, peer, 'serve');
          answer = { type: 'Error', message: errorMessage(e) };
        }
        if (answer) await send(answer);
      }
      await stream.close({ signal: AbortSignal.timeout(ctx.timeoutMs) });
    } catch (e) {
      await endFailedStream(e, {
        stream,
        reader,
        protocol: POSITIONS_PROTOCOL,
        timeoutMs: ctx.timeoutMs,
        stopping: ctx.stopping,
        report: (error) => ctx.report(error, peer, 'serve'),
        sendError: (message) => send({ type: 'Error', message }),
      });
    } finally {
      reader.dispose();
    }
  };
}

async function answerRequest(
  ctx: SyncServerContext,
  peer: PeerId,
  req: SyncRequestMessage,
): Promise<SyncResponseMessage | undefined> {
  switch (req.type) {
    case 'SyncRequest': {
      if (req.limit < 1 || req.limit > ctx.maxLimit) {
        throw new LimitOutOfRangeError(req.limit, ctx.maxLimit);
      }
      const head = await ctx.log.localHead();
      if (req.since > head) {
        throw new PositionOutOfRangeError(
          `SyncRequest since ${req.since} is past the end of this peer's log (last position ` +
            `${head}). Its log may have been reset: sync again from 0.`,
        );
      }
      return { type: 'SyncResponse', ...(await eventsFor(ctx, peer, req.since, req.limit)) };
    }
    case 'DocRequest': {
      const id = req.docId as DocumentId;
      // A document the peer may not receive is answered like one we never saw.
      if (
        !isValidDocumentId(req.docId) ||
        !(await ctx.shares(id)) ||
        !(await ctx.mayReceive(peer, req.docId))
      ) {
        throw new UnknownDocumentError(req.docId);
      }
      const d = timeLimit({ signal: ctx.stopping }, ctx.timeoutMs, `loading document ${req.docId}`);
      let doc: Doc;
      try {
        doc = await ctx.load(id, d.signal);
      } catch (e) {
        // The Repo rejects with its own AbortError: report our reason (timeout or stop).
        if (d.signal.aborted) throw d.signal.reason;
        throw new UnknownDocumentError(req.docId, { cause: e });
      } finally {
        d.done();
      }
      const known = req.heads.filter((h) => hasHeads(doc, [h]));
      return { type: 'DocResponse', docId: req.docId, changes: getChangesSince(doc, known) };
    }
    case 'Announce':
      await ctx.receiveAnnounce(peer.toString(), req.event);
      return undefined;
  }
}

/**
 * Local events after `since` that `peer` may receive, at most `limit`, and whether more
 * follow. Events about documents it may not receive are left out: gaps in its positions.
 */
async function eventsFor(
  ctx: SyncServerContext,
  peer: PeerId,
  since: number,
  limit: number,
): Promise<{ events: SyncEvent[]; hasMore: boolean }> {
  const admitted = new Map<string, Promise<boolean>>();
  const admits = (docId: string) => {
    let answer = admitted.get(docId);
    if (!answer) {
      answer = ctx.mayReceive(peer, docId);
      admitted.set(docId, answer);
    }
    return answer;
  };
  const events: SyncEvent[] = [];
  for (let cursor = since; ; ) {
    // One row more than a page: without an audience, whether more follow is known at once.
    const rows = await ctx.log.localSince(cursor, limit + 1);
    for (const event of rows.events) {
      if (!(await admits(event.doc_id))) continue;
      if (events.length === limit) return { events, hasMore: true };
      events.push(event);
    }
    const last = rows.events.at(-1);
    if (!rows.hasMore || !last) return { events, hasMore: false };
    cursor = last.position;
  }
}
