import {
  type BinaryDocumentId,
  cbor,
  type DocumentId,
  parseAutomergeUrl,
  stringifyAutomergeUrl,
} from '@automerge/automerge-repo';
import type { Stream } from '@libp2p/interface';
import { concat, framed, prng, type Rng, splitFrames } from '../test-support/fuzz.ts';
import { readAll } from '../test-support/libp2p.ts';
import { type Encodable, encodeMsgpack, FrameReader } from '../wire/index.ts';
import { decodeSyncRequest, decodeSyncResponse, encodeSyncMessage } from './index.ts';

const KiB = 1024;
/** Frame cap of both protocols on the node under test (small, so oversized frames are cheap). */
export const CAP = 64 * KiB;
export const BATCH = 16;
export const SEED = 0x5eed_5c0d;
/**
 * The node's per-request timeout: a rogue that never answers costs this much. Long enough that
 * a node slowed by a busy machine still finishes what the case expects (at 1.5 s, a stream the
 * node keeps was sometimes reset by its own write timeout at a load of 20 on 2 cores).
 */
export const TIMEOUT_MS = 4_000;
export const MAX_GAP = 1_000;

// Shared with the shard fuzz suite; re-exported so the sync cases take all they use from here.
export { concat, framed, prng, type Rng };

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export const msgpackFrame = (v: Encodable) => framed(encodeMsgpack(v));
export const cborFrame = (v: unknown) => framed(cbor.encode(v));

export function flip(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ (mask || 1);
  return out;
}

/** A valid, random automerge-repo DocumentId nobody holds. */
export function unknownDocId(r: Rng): DocumentId {
  return parseAutomergeUrl(stringifyAutomergeUrl(r.bytes(16) as BinaryDocumentId)).documentId;
}

/** A MessagePack value of any type, nested up to `depth`. */
export function junk(r: Rng, depth = 2): Encodable {
  switch (r.int(depth > 0 ? 11 : 8)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([-1, -129, -(2 ** 31), 2 ** 32, 2 ** 53 + 2, 0.5, -0.0, 1e300, Number.NaN]);
    case 3:
      return r.int(1 << 20);
    case 4:
      return r.pick(['', 'Local', 'SyncRequest', 'Announce', '\u0000', 'é'.repeat(r.int(40))]);
    case 5:
      return r.bytes(r.int(40));
    case 6:
      return Array.from({ length: r.int(5) }, () => r.int(300) - 20);
    case 7:
      return r.pick([Number.POSITIVE_INFINITY, 256, 1.5]);
    case 8:
      return Array.from({ length: r.int(4) }, () => junk(r, depth - 1));
    case 9: {
      const o: Record<string, Encodable> = {};
      for (let i = r.int(4); i > 0; i--) {
        o[r.pick(['since', 'limit', 'doc_id', 'heads', 'event', 'x'])] = junk(r, depth - 1);
      }
      return o;
    }
    default:
      return {
        [r.pick(['SyncRequest', 'DocRequest', 'Announce', 'SyncResponse', 'Foo'])]: junk(
          r,
          depth - 1,
        ),
      };
  }
}

/** A CBOR-able value of any type (for automerge-repo message fields). */
export function cborJunk(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => undefined,
    () => r.int(1 << 30) - (1 << 29),
    () => 1.5,
    () => '',
    () => 'x'.repeat(r.int(300)),
    () => r.bytes(r.int(64)),
    () => [r.int(5), 'a', null],
    () => ({ nested: { deeper: [1, 2, 3] } }),
    () => new Map<unknown, unknown>([[1, 2]]),
    () => true,
  ])();
}

// ---------------------------------------------------------------------------------------------
// Cases

export type Outcome = string;

/** What the rogue peer answers when the node asks it for something (see `rogueServe`). */
export type RogueAnswer = Uint8Array | 'close' | 'hang';

export interface Case {
  category: string;
  /** Frames sent by the rogue on a stream of `protocol` to the node. */
  protocol?: string;
  bytes?: Uint8Array;
  /** The rogue's answer to the node's DocRequest for this document, if the case causes one. */
  doc?: { id: string; answer: RogueAnswer };
  /** Client side: the node catches up from the rogue, which answers its SyncRequest with this. */
  page?: RogueAnswer;
  /** Outcomes that are correct for this input. */
  allowed: readonly Outcome[];
}

export interface Fixture {
  /** The node's own documents (in its log). */
  library: DocumentId;
  meta: DocumentId;
  /** Heads (hex) of the library. */
  libraryHeads: string[];
  /** Repo peer ids an attacker might impersonate. */
  serverRepoPeer: string;
  honestRepoPeer: string;
  /** Changes of a document nobody here holds: [first (no deps), second (depends on first)]. */
  foreign: { first: Uint8Array; second: Uint8Array; secondHash: string; firstHash: string };
  /** A change-free automerge sync message (a fresh peer's opening). */
  openingSync: Uint8Array;
}

export const ERROR = ['Error'];

/** What a part of the case generator needs: the fixture, the seeded sequence, `add`. */
export interface CaseContext {
  f: Fixture;
  r: Rng;
  add(n: number, category: string, make: (i: number) => Omit<Case, 'category'>): void;
  someHash(): string;
}

// ---------------------------------------------------------------------------------------------
// Classifying answers

/** Splits a whole sync-protocol answer into frames and sums it up. */
export function classifySync(raw: Uint8Array): Outcome {
  if (raw.byteLength === 0) return 'closed';
  const bodies = splitFrames(raw);
  if (bodies === 'undecodable') return bodies;
  const kinds: string[] = [];
  for (const body of bodies) {
    try {
      kinds.push(decodeSyncResponse(body).type);
    } catch {
      return 'undecodable';
    }
  }
  return kinds.join('→');
}

/** Reads all a stream sends until the remote ends it ('closed') or resets it ('reset'). */
export async function drain(
  stream: Stream,
  timeoutMs = 10_000,
): Promise<{ bytes?: Uint8Array; reset: boolean }> {
  try {
    return { bytes: await readAll(stream, timeoutMs), reset: false };
  } catch {
    return { reset: true };
  }
}

// ---------------------------------------------------------------------------------------------
// The rogue's answers to the node's requests

export interface Rogue {
  /** DocRequest answers by document. */
  docs: Map<string, RogueAnswer>;
  /** The answer to the next SyncRequest (default: an empty last page). */
  page: RogueAnswer | undefined;
  asked: { doc: number; page: number };
}

export function rogueServe(rogue: Rogue) {
  return async (stream: Stream): Promise<void> => {
    const reader = new FrameReader(stream);
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: 1 << 20, timeoutMs: 10_000 });
        if (payload === undefined) break;
        const req = decodeSyncRequest(payload);
        let answer: RogueAnswer;
        if (req.type === 'DocRequest') {
          rogue.asked.doc++;
          answer =
            rogue.docs.get(req.docId) ??
            encodeSyncMessage({ type: 'Error', message: 'not shared here' });
        } else if (req.type === 'SyncRequest') {
          rogue.asked.page++;
          answer =
            rogue.page ?? encodeSyncMessage({ type: 'SyncResponse', events: [], hasMore: false });
        } else {
          continue; // an Announce from the node: nothing to answer
        }
        if (answer === 'hang') {
          await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 500));
          stream.abort(new Error('rogue hung up'));
          return;
        }
        // One answer per stream (the node asks each request on its own stream); ending it
        // after a truncated answer lets the node see the truncation instead of waiting.
        if (answer !== 'close') stream.send(answer);
        break;
      }
      await stream.close();
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    } finally {
      reader.dispose();
    }
  };
}
