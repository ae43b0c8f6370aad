import { useEffect, useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { contentKind } from './contentKind.ts';
import { errorMessage, formatBytes } from './format.ts';
import { readTextPrefix, TEXT_PREVIEW_BYTES } from './readTextPrefix.ts';
import { usePreviewUrl } from './usePreviewUrl.ts';

interface Props {
  store: ContentStore;
  item: StoredManifest;
  label: string;
}

/** The item itself, as far as the browser can show it: picture, player, or the start of the text. */
export function ContentPreview({ store, item, label }: Props) {
  const kind = contentKind(item);
  return (
    <figure className="preview" data-testid="preview" data-kind={kind}>
      {kind === 'text' ? (
        <TextPreview store={store} item={item} />
      ) : kind === 'other' ? (
        <p className="preview__none muted">
          No preview for this type ({item.mime_type || 'unknown'}). Open it in a new tab or download
          it.
        </p>
      ) : (
        <MediaPreview store={store} item={item} label={label} kind={kind} />
      )}
    </figure>
  );
}

function MediaPreview({ store, item, label, kind }: Props & { kind: 'image' | 'video' | 'audio' }) {
  const source = usePreviewUrl(store, item);
  const [failed, setFailed] = useState(false);
  if (source.status === 'loading') {
    return (
      <p className="preview__none muted" aria-busy="true">
        Loading preview…
      </p>
    );
  }
  if (source.status === 'unavailable') {
    return <p className="preview__none muted">{source.reason}</p>;
  }
  if (failed) {
    return (
      <p className="preview__none muted">
        This browser could not play or show it ({item.mime_type}). Download it to open it in another
        app.
      </p>
    );
  }
  if (kind === 'image') {
    return <img src={source.url} alt={`Preview of ${label}`} onError={() => setFailed(true)} />;
  }
  if (kind === 'video') {
    return (
      // biome-ignore lint/a11y/useMediaCaption: stored files carry no caption tracks to offer.
      <video
        src={source.url}
        controls
        preload="metadata"
        aria-label={`Play ${label}`}
        onError={() => setFailed(true)}
      />
    );
  }
  return (
    // biome-ignore lint/a11y/useMediaCaption: stored files carry no caption tracks to offer.
    <audio
      src={source.url}
      controls
      preload="metadata"
      aria-label={`Play ${label}`}
      onError={() => setFailed(true)}
    />
  );
}

type TextState =
  | { status: 'loading' }
  | { status: 'ready'; text: string }
  | { status: 'failed'; error: string };

function TextPreview({ store, item }: Omit<Props, 'label'>) {
  const [state, setState] = useState<TextState>({ status: 'loading' });
  useEffect(() => {
    // Closing the details (or switching item) stops the read.
    const abort = new AbortController();
    setState({ status: 'loading' });
    readTextPrefix(store, item.blob_hash, abort.signal).then(
      (text) => setState({ status: 'ready', text }),
      (error: unknown) => {
        if (!abort.signal.aborted) setState({ status: 'failed', error: errorMessage(error) });
      },
    );
    return () => abort.abort();
  }, [store, item.blob_hash]);

  if (state.status === 'loading') {
    return (
      <p className="preview__none muted" aria-busy="true">
        Reading the start of the file…
      </p>
    );
  }
  if (state.status === 'failed') {
    return (
      <p className="preview__none error" role="alert">
        Could not read it: {state.error}
      </p>
    );
  }
  const truncated = item.total_size > TEXT_PREVIEW_BYTES;
  return (
    <>
      <pre className="preview__text" data-testid="preview-text">
        {state.text}
      </pre>
      {truncated && (
        <figcaption className="muted">
          The first {formatBytes(TEXT_PREVIEW_BYTES)} of {formatBytes(item.total_size)}. Open it to
          read the rest.
        </figcaption>
      )}
    </>
  );
}
