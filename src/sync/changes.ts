/** Changes a peer sent for a document, checked before any is applied. */
import { applyChanges, clone, decodeChange, hasHeads, init } from '@automerge/automerge/slim';
import type { DocHandle } from '@automerge/automerge-repo/slim';
import { errorMessage } from '../wire/index.ts';
import type { DocKeeping } from './audience.ts';
import { BadChangesError } from './errors.ts';

/**
 * Applies `changes` from `peer` to the handle's document in one update, after checking that
 * each decodes, that the `required` (announced) changes are among them or already held, and
 * that every dependency is. Throws `BadChangesError` before applying anything otherwise.
 */
export function applyCheckedChanges(
  peer: string,
  handle: DocHandle<unknown>,
  changes: Uint8Array[],
  required: readonly string[],
): void {
  const docId = handle.documentId;
  const doc = handle.isReady() ? handle.doc() : undefined;
  const has = (h: string) => doc !== undefined && hasHeads(doc, [h]);
  const batch = new Set<string>();
  const deps: string[] = [];
  for (const [i, c] of changes.entries()) {
    try {
      const decoded = decodeChange(c);
      batch.add(decoded.hash);
      deps.push(...decoded.deps);
    } catch (e) {
      throw new BadChangesError(peer, docId, `change ${i} does not decode (${errorMessage(e)})`);
    }
  }
  const absent = required.filter((h) => !batch.has(h) && !has(h));
  if (absent.length > 0) {
    throw new BadChangesError(peer, docId, `announced change(s) ${absent.join(', ')} are missing`);
  }
  const unmet = deps.filter((h) => !batch.has(h) && !has(h));
  if (unmet.length > 0) {
    throw new BadChangesError(peer, docId, `dependencies ${unmet.join(', ')} are missing`);
  }
  const ready = handle.isReady();
  handle.update((d) => applyChanges(d, changes)[0]);
  if (!ready) handle.doneLoading();
}

/**
 * Whether the document, with `changes` applied to a copy, is one `mayKeep` keeps (a doorway
 * keeps commons descriptions only). Changes that do not apply are let through, for
 * `applyCheckedChanges` to refuse with the reason.
 */
export async function keepsAfter(
  mayKeep: DocKeeping,
  docId: string,
  doc: unknown,
  changes: Uint8Array[],
): Promise<boolean> {
  let after: unknown;
  try {
    const base = doc === undefined ? init() : clone(doc as Parameters<typeof clone>[0]);
    [after] = applyChanges(base, changes);
  } catch {
    return true;
  }
  return (await mayKeep(docId, after)) === true;
}
