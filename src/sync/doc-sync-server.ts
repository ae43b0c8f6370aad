/**
 * The answering side of `/elohim/sync/1.0.0` (the Rust node's document sync, `doc-sync-codec.ts`)
 * over this peer's Automerge documents: its libraries and item descriptions, under the app_id
 * {@link APP_ID}. One request per stream: read one frame (capped), answer, close; the whole
 * exchange is bounded by `timeoutMs`.
 *
 * Who sees what: exactly what the audience (`audience.ts`: the delivery gate of the item a
 * description describes) lets a peer receive over automerge-repo. A document that is not
 * shared here, cannot be loaded, or that the asker may not receive is answered `NotFound`, the
 * same answer in every case; ListDocuments lists only the documents the asker may receive, and
 * counts only those in `total`. Another app_id is an empty namespace here: `NotFound`, or an
 * empty DocumentList.
 *
 * Who writes what: an AnnounceChange with `change_data` is applied when the asker may receive
 * the document (automerge-repo's share configuration takes a peer's sync messages by the same
 * rule), and only when the data is the one change announced, its dependencies are all here
 * (`changes.ts`) and the document stays one this peer keeps (`mayKeep`: on a doorway, a
 * description of a commons item it holds); else nothing is applied and the answer is an
 * `Error` saying why.
 *
 * Where the Rust node differs (and why we do not follow it): it answers GetHeads for a
 * document it lacks with empty heads (we: `NotFound`), answers GetChanges with every change
 * (we: the ones asked for, by Automerge change hash, the others in `not_found`), creates any
 * document an AnnounceChange names (we: only documents we share) and never pages SyncChanges
 * (we: pages under the frame cap, `has_more` and `new_heads` saying where the page ends).
 */
import {
  decodeChange,
  getBackend,
  getChangesMetaSince,
  getHeads,
  hasHeads,
  stats,
} from '@automerge/automerge/slim';
import { type DocHandle, type DocumentId, isValidDocumentId } from '@automerge/automerge-repo/slim';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { errorMessage, FrameReader, writeFrame } from '../wire/index.ts';
import { encodeOrRefuse, endFailedStream } from './answering.ts';
import { type DocKeeping, isItemMeta, isLibrary } from './audience.ts';
import { applyCheckedChanges, keepsAfter } from './changes.ts';
import { isChangeHash } from './codec.ts';
import {
  type DocSyncRequest,
  type DocSyncResponse,
  type DocumentInfo,
  decodeDocSyncRequest,
  encodeDocSyncMessage,
  SYNC_PROTOCOL,
} from './doc-sync-codec.ts';
import { BadChangesError, SyncProtocolError } from './errors.ts';
import { timeLimit } from './flow.ts';
import type { Doc } from './server.ts';

/** The app_id our documents are under (the Rust node's own sync round asks for "elohim"). */
export const APP_ID = 'elohim-web';
/** Most documents one DocumentList carries (the Rust node asks for 1000); more: has_more. */
export const MAX_LIST_LIMIT = 1000;
/** Room left in a frame for everything but the change bytes of a Changes answer. */
const ENVELOPE_BYTES = 64 * 1024;

export interface DocSyncServerContext {
  readonly maxFrameBytes: number;
  /** For the whole exchange: reading the request, answering, writing. */
  readonly timeoutMs: number;
  /** Aborts when the service stops. */
  readonly stopping: AbortSignal;
  /** The documents shared here (a superset: each is still checked). */
  sharedDocs(): Promise<string[]>;
  /** Whether this peer shares `docId` at all. */
  shares(docId: DocumentId): Promise<boolean>;
  /** The document's handle, ready; rejects when it cannot be loaded. */
  open(docId: DocumentId, signal: AbortSignal): Promise<DocHandle<unknown>>;
  /** The audience's answer (never throws). */
  mayReceive(peer: PeerId, docId: string): Promise<boolean>;
  /** Whether to keep a document as an AnnounceChange would make it (`SyncServiceOptions`). */
  mayKeep?: DocKeeping;
  report(error: unknown, peer: string, op: string): void;
}

/** The protocol handler: one request, one answer. */
export function docSyncHandler(
  ctx: DocSyncServerContext,
): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const remote = connection.remotePeer;
    const peer = remote.toString();
    const d = timeLimit(
      { signal: ctx.stopping },
      ctx.timeoutMs,
      `answering a ${SYNC_PROTOCOL} request`,
    );
    const reader = new FrameReader(stream);
    const send = (answer: DocSyncResponse) =>
      writeFrame(
        stream,
        encodeOrRefuse(answer, (a) => encodeDocSyncMessage(a, ctx.maxFrameBytes)),
        { signal: d.signal },
      );
    try {
      const payload = await reader.read({ maxFrameBytes: ctx.maxFrameBytes, signal: d.signal });
      if (payload === undefined) throw new SyncProtocolError('The stream ended before a request.');
      let answer: DocSyncResponse;
      try {
        const req = decodeDocSyncRequest(payload, ctx.maxFrameBytes);
        answer = await answerRequest(ctx, remote, req, d.signal);
      } catch (e) {
        if (d.signal.aborted) throw e;
        ctx.report(e, peer, 'serve sync');
        answer = { type: 'Error', message: errorMessage(e) };
      }
      await send(answer);
      await stream.close({ signal: d.signal });
    } catch (e) {
      await endFailedStream(e, {
        stream,
        reader,
        protocol: SYNC_PROTOCOL,
        timeoutMs: ctx.timeoutMs,
        stopping: ctx.stopping,
        report: (error) => ctx.report(error, peer, 'serve sync'),
        sendError: (message) => send({ type: 'Error', message }),
      });
    } finally {
      reader.dispose();
      d.done();
    }
  };
}

async function answerRequest(
  ctx: DocSyncServerContext,
  peer: PeerId,
  req: DocSyncRequest,
  signal: AbortSignal,
): Promise<DocSyncResponse> {
  if (req.type === 'ListDocuments') return listDocuments(ctx, peer, req, signal);
  const { appId, docId } = req;
  const handle = await openFor(ctx, peer, appId, docId, signal);
  if (!handle) return { type: 'NotFound', appId, docId };
  const doc = handle.doc() as Doc;
  switch (req.type) {
    case 'GetHeads':
      return { type: 'Heads', appId, docId, heads: getHeads(doc), changeCount: changeCount(doc) };
    case 'SyncChanges':
      return { type: 'Changes', appId, docId, ...changesSince(doc, req.haveHeads, ctx) };
    case 'GetChanges': {
      const backend = getBackend(doc);
      const changes: [string, Uint8Array][] = [];
      const notFound: string[] = [];
      for (const hash of req.changeHashes) {
        const change = isChangeHash(hash) ? backend.getChangeByHash(hash) : null;
        if (change) changes.push([hash, change]);
        else notFound.push(hash);
      }
      return { type: 'RequestedChanges', appId, docId, changes, notFound };
    }
    case 'AnnounceChange': {
      const held = isChangeHash(req.changeHash) && hasHeads(doc, [req.changeHash]);
      if (held || req.changeData === null)
        return { type: 'ChangeAck', appId, docId, wasNew: !held };
      checkAnnounced(peer.toString(), docId, req.changeHash, req.changeData);
      if (ctx.mayKeep && !(await keepsAfter(ctx.mayKeep, docId, doc, [req.changeData]))) {
        throw new BadChangesError(
          peer.toString(),
          docId,
          'with this change it would no longer be a document this peer keeps (a doorway keeps ' +
            'descriptions of the commons items it holds only)',
        );
      }
      applyCheckedChanges(peer.toString(), handle, [req.changeData], [req.changeHash]);
      return { type: 'ChangeAck', appId, docId, wasNew: true };
    }
  }
}

/** The handle of a document `peer` may receive, or undefined (never says which check failed). */
async function openFor(
  ctx: DocSyncServerContext,
  peer: PeerId,
  appId: string,
  docId: string,
  signal: AbortSignal,
): Promise<DocHandle<unknown> | undefined> {
  if (appId !== APP_ID || !isValidDocumentId(docId) || !(await ctx.shares(docId))) return;
  let handle: DocHandle<unknown>;
  try {
    handle = await ctx.open(docId, signal);
  } catch (e) {
    // The Repo rejects with its own AbortError: ours (timeout or stop) says more.
    if (signal.aborted) throw signal.reason;
    ctx.report(e, peer.toString(), `load ${docId}`);
    return;
  }
  return (await ctx.mayReceive(peer, docId)) ? handle : undefined;
}

function changeCount(doc: Doc): number {
  return stats(doc).numChanges;
}

/**
 * The changes the asker lacks given the heads it has (unknown ones ignored, as the Rust node
 * does), in causal order, as many as fit in a frame; `new_heads` are the asker's heads once
 * it applied them (the document's heads when nothing is left).
 */
function changesSince(
  doc: Doc,
  haveHeads: readonly string[],
  ctx: Pick<DocSyncServerContext, 'maxFrameBytes'>,
): { changes: Uint8Array[]; hasMore: boolean; newHeads: string[] } {
  const known = haveHeads.filter((h) => isChangeHash(h) && hasHeads(doc, [h]));
  const metas = getChangesMetaSince(doc, known);
  const backend = getBackend(doc);
  const budget = Math.max(ctx.maxFrameBytes - ENVELOPE_BYTES, 1);
  const changes: Uint8Array[] = [];
  let size = 0;
  for (const meta of metas) {
    const change = backend.getChangeByHash(meta.hash);
    if (!change) continue;
    // 5 bytes of bin32 header at most per change.
    if (size + change.byteLength + 5 > budget && changes.length > 0) break;
    changes.push(change);
    size += change.byteLength + 5;
  }
  if (changes.length === metas.length) return { changes, hasMore: false, newHeads: getHeads(doc) };
  // Heads after the page: what it and the asker's heads hold that nothing in the page follows.
  const sent = metas.slice(0, changes.length);
  const heads = new Set([...known, ...sent.map((m) => m.hash)]);
  for (const m of sent) for (const dep of m.deps) heads.delete(dep);
  return { changes, hasMore: true, newHeads: [...heads].sort() };
}

/** Refuses change data that is not the one change announced (before anything is applied). */
function checkAnnounced(peer: string, docId: string, hash: string, data: Uint8Array): void {
  let actual: string;
  try {
    actual = decodeChange(data).hash;
  } catch (e) {
    throw new BadChangesError(
      peer,
      docId,
      `change_data is not one Automerge change (${errorMessage(e)})`,
    );
  }
  if (actual !== hash) {
    throw new BadChangesError(
      peer,
      docId,
      `change_data is change ${actual}, not the announced ${hash}`,
    );
  }
}

async function listDocuments(
  ctx: DocSyncServerContext,
  peer: PeerId,
  req: Extract<DocSyncRequest, { type: 'ListDocuments' }>,
  signal: AbortSignal,
): Promise<DocSyncResponse> {
  const { appId, prefix, offset } = req;
  const limit = Math.min(req.limit, MAX_LIST_LIMIT);
  const admitted: DocumentInfo[] = [];
  if (appId === APP_ID) {
    const ids = [...new Set(await ctx.sharedDocs())].sort();
    for (const id of ids) {
      const handle = await openFor(ctx, peer, appId, id, signal);
      if (!handle) continue;
      const info = documentInfo(id, handle.doc() as Doc);
      // `prefix` filters by document type, as the Rust node's store does.
      if (prefix === null || info.docType === prefix) admitted.push(info);
    }
  }
  const documents = admitted.slice(offset, offset + limit);
  return {
    type: 'DocumentList',
    appId,
    documents,
    total: admitted.length,
    hasMore: offset + documents.length < admitted.length,
  };
}

/** The Rust node's DocumentInfo of one of our documents. */
function documentInfo(docId: string, doc: Doc): DocumentInfo {
  const heads = getHeads(doc);
  const backend = getBackend(doc);
  // Automerge records seconds; the Rust node's last_modified is milliseconds.
  const seconds = Math.max(0, ...heads.map((h) => backend.getChangeMetaByHash(h)?.time ?? 0));
  return {
    docId,
    docType: docType(doc),
    changeCount: changeCount(doc),
    lastModified: seconds * 1000,
    heads,
  };
}

/** `library` (an agent's library), `item-meta` (an item's description), else `unknown`. */
function docType(doc: unknown): string {
  if (isLibrary(doc)) return 'library';
  if (isItemMeta(doc)) return 'item-meta';
  return 'unknown';
}
