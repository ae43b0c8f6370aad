import type { DocHandle } from '@automerge/automerge-repo/slim';
import { type FormEvent, useEffect, useId, useState } from 'react';
import type { ItemMeta } from '../sync/index.ts';
import { errorMessage } from './format.ts';
import { syncReady, useLibraryEntries } from './useSync.ts';

/** Tries to find a description peers hold, 2 s apart, before saying it cannot be had. */
const FIND_ATTEMPTS = 30;

/**
 * The item's shared metadata (title, description, tags): an Automerge document every holder
 * can edit, offline too; edits from other tabs and peers appear as they arrive, and
 * concurrent edits merge (tags from both sides are kept).
 */
export function ItemMetaEditor({ hash }: { hash: string }) {
  const entry = useLibraryEntries()[hash];
  const [handle, setHandle] = useState<DocHandle<ItemMeta>>();
  const [meta, setMeta] = useState<ItemMeta>();
  const [error, setError] = useState<string>();
  const metaDoc = entry?.meta_doc;

  useEffect(() => {
    if (!metaDoc) return;
    let stop = () => {};
    let live = true;
    void (async () => {
      const sync = await syncReady();
      // Loaded with the sync runtime already; not Repo.find's own signal (see findDoc).
      const { findDoc } = await import('../sync/index.ts');
      // A document only peers hold is "unavailable" until one of them is connected: keep asking.
      for (let attempt = 1; live; attempt++) {
        try {
          const found = await findDoc<ItemMeta>(sync.repo, metaDoc, {
            signal: AbortSignal.timeout(30_000),
          });
          if (!live) return;
          sync.tracker.track(found);
          const update = () => setMeta(structuredClone(found.doc()));
          found.on('change', update);
          stop = () => found.off('change', update);
          setHandle(found);
          setError(undefined);
          update();
          return;
        } catch (e) {
          if (!live) return;
          if (attempt >= FIND_ATTEMPTS) {
            setError(
              `The item's description could not be loaded: ${errorMessage(e)}. Connect to a peer that holds it and reopen.`,
            );
            return;
          }
          await new Promise((r) => setTimeout(r, 2_000));
        }
      }
    })();
    return () => {
      live = false;
      stop();
    };
  }, [metaDoc]);

  if (!entry) {
    return (
      <p className="muted small">
        Private items and items not yet in your library have no shared description.
      </p>
    );
  }
  if (error)
    return (
      <p className="error small" role="alert">
        {error}
      </p>
    );
  if (!handle || !meta)
    return (
      <p className="muted small" aria-busy="true">
        Loading the description…
      </p>
    );
  return <MetaForm handle={handle} meta={meta} />;
}

function MetaForm({ handle, meta }: { handle: DocHandle<ItemMeta>; meta: ItemMeta }) {
  const titleId = useId();
  const descriptionId = useId();
  const tagId = useId();
  const [title, setTitle] = useState(meta.title);
  const [description, setDescription] = useState(meta.description);
  const [tag, setTag] = useState('');
  const [tags, setTags] = useState<string[]>([]);
  const [edit, setEdit] = useState<typeof import('../sync/index.ts')>();

  // Remote edits replace what is shown, unless the field is being edited right now.
  useEffect(() => setTitle(meta.title), [meta.title]);
  useEffect(() => setDescription(meta.description), [meta.description]);
  useEffect(() => {
    void import('../sync/index.ts').then((sync) => {
      setEdit(sync);
      setTags(sync.tagsOf(meta));
    });
  }, [meta]);

  const save = (event: FormEvent) => {
    event.preventDefault();
    if (!edit) return;
    if (title !== meta.title) edit.setTitle(handle, title);
    if (description !== meta.description) edit.setDescription(handle, description);
  };
  const addTag = (event: FormEvent) => {
    event.preventDefault();
    if (!edit || !tag.trim()) return;
    edit.addTag(handle, tag);
    setTag('');
  };

  return (
    <div className="meta" data-testid="item-meta">
      <form className="meta__form" onSubmit={save}>
        <label htmlFor={titleId}>Title</label>
        <input
          id={titleId}
          data-testid="meta-title"
          value={title}
          onChange={(e) => setTitle(e.currentTarget.value)}
        />
        <label htmlFor={descriptionId}>Description</label>
        <textarea
          id={descriptionId}
          data-testid="meta-description"
          rows={3}
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <button type="submit" data-testid="meta-save" disabled={!edit}>
          Save
        </button>
      </form>
      <ul className="meta__tags" aria-label="Tags" data-testid="meta-tags">
        {tags.map((t) => (
          <li key={t} className="chip" data-testid="meta-tag" data-tag={t}>
            {t}
            <button
              type="button"
              className="linklike"
              aria-label={`Remove tag ${t}`}
              onClick={() => edit?.removeTag(handle, t)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form className="meta__add-tag" onSubmit={addTag}>
        <label htmlFor={tagId}>Add a tag</label>
        <input
          id={tagId}
          data-testid="meta-tag-input"
          value={tag}
          onChange={(e) => setTag(e.currentTarget.value)}
        />
        <button type="submit" data-testid="meta-tag-add" disabled={!edit}>
          Add
        </button>
      </form>
    </div>
  );
}
