import { useCallback, useRef, useState } from 'react';
import type { ContentStore, Reach } from '../content/index.ts';
import { pageIdentity, pageSealingKey } from '../identity/index.ts';
import type { AgentKey } from '../reach/index.ts';
import { logger } from '../wire/index.ts';
import { errorMessage } from './format.ts';
import { clearFinished, EMPTY_FILE_MESSAGE, type IngestJob } from './ingestJobs.ts';
import { addToLibrary } from './useSync.ts';

/**
 * A stored file shows up in the library at once; its finished row lingers only long enough
 * to be noticed. Failed, refused and cancelled rows stay until dismissed, one by one or with
 * "Clear finished": they carry a message.
 */
const DONE_LINGER_MS = 4_000;

const log = logger('library');

/**
 * Files are stored one after another: IndexedDB writes are the bottleneck, so running puts in
 * parallel would only split the same throughput and hold more memory.
 */
export function useIngest(store: ContentStore | undefined) {
  const [jobs, setJobs] = useState<IngestJob[]>([]);
  const controllers = useRef(new Map<number, AbortController>());
  const queue = useRef<Promise<void>>(Promise.resolve());
  const nextId = useRef(1);

  const update = useCallback((id: number, patch: Partial<IngestJob>) => {
    setJobs((all) => all.map((job) => (job.id === id ? { ...job, ...patch } : job)));
  }, []);

  const add = useCallback(
    (files: Iterable<File>, reach: Reach, invited?: readonly AgentKey[]) => {
      if (!store) return;
      for (const file of files) {
        const id = nextId.current++;
        if (file.size === 0) {
          setJobs((all) => [
            ...all,
            {
              id,
              name: file.name,
              size: 0,
              bytesDone: 0,
              state: 'refused',
              error: EMPTY_FILE_MESSAGE,
            },
          ]);
          continue;
        }
        const controller = new AbortController();
        controllers.current.set(id, controller);
        setJobs((all) => [
          ...all,
          { id, name: file.name, size: file.size, bytesDone: 0, state: 'queued' },
        ]);
        queue.current = queue.current.then(async () => {
          if (controller.signal.aborted) return;
          update(id, { state: 'storing' });
          try {
            const { putAtReach, isEncryptedAtRest, loadOwnClusterKey } = await import(
              '../reach/index.ts'
            );
            // Made by the tab that runs the network once this person has family; read here.
            const cluster = reach === 'local' ? await loadOwnClusterKey() : undefined;
            const me = await pageIdentity();
            const manifest = await putAtReach(store, file, {
              reach,
              owner: me.agent,
              // Sealed for this browser and the person key (the person's other devices).
              ...(isEncryptedAtRest(reach)
                ? { device: await pageSealingKey(), mySecret: me.secret }
                : {}),
              ...(reach === 'invited' ? { invited: invited ?? [] } : {}),
              ...(cluster ? { cluster } : {}),
              name: file.name,
              mime: file.type || 'application/octet-stream',
              signal: controller.signal,
              // A sealed item is stored as its (slightly larger) ciphertext: cap at the file.
              onProgress: (p) => update(id, { bytesDone: Math.min(p.bytesDone, file.size) }),
            });
            update(id, { state: 'done', bytesDone: file.size, hash: manifest.blob_hash });
            // Its shared description; the item is stored whatever happens to this.
            void addToLibrary(manifest).catch((e) =>
              log.error(
                '%s was stored but not added to the library: %s',
                manifest.blob_hash,
                errorMessage(e),
              ),
            );
            setTimeout(() => setJobs((all) => all.filter((job) => job.id !== id)), DONE_LINGER_MS);
          } catch (error) {
            if (controller.signal.aborted) update(id, { state: 'cancelled' });
            else update(id, { state: 'failed', error: errorMessage(error) });
          } finally {
            controllers.current.delete(id);
          }
        });
      }
    },
    [store, update],
  );

  const cancel = useCallback((id: number) => {
    controllers.current.get(id)?.abort();
    setJobs((all) =>
      all.map((job) =>
        job.id === id && job.state === 'queued' ? { ...job, state: 'cancelled' } : job,
      ),
    );
  }, []);

  const dismiss = useCallback((id: number) => {
    setJobs((all) => all.filter((job) => job.id !== id));
  }, []);

  const clear = useCallback(() => setJobs(clearFinished), []);

  return { jobs, add, cancel, dismiss, clear };
}
