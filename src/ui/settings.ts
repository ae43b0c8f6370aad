import type { ContentStoreOptions } from '../content/index.ts';

const NUMERIC_PARAMS = ['chunkedAbove', 'rsAbove', 'chunkSize', 'pieceSize'] as const;

/**
 * Encoding thresholds can be lowered from the URL (`?chunkedAbove=65536&rsAbove=262144`) so
 * tests and demos exercise every encoding with small files. Manifests record their encoding,
 * so content stored under one setting reads back under any other.
 */
export function storeOptionsFromSearch(search: string): ContentStoreOptions {
  const params = new URLSearchParams(search);
  const read = (name: (typeof NUMERIC_PARAMS)[number]) => {
    const text = params.get(name);
    if (text === null) return undefined;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(
        `URL setting ${name} must be a positive whole number of bytes, got "${text}"`,
      );
    }
    return value;
  };
  const chunkedAbove = read('chunkedAbove');
  const rsAbove = read('rsAbove');
  const options: ContentStoreOptions = {};
  if (chunkedAbove !== undefined || rsAbove !== undefined) {
    options.thresholds = {
      chunkedAbove: chunkedAbove ?? 16 * 1024 * 1024,
      rsAbove: rsAbove ?? 100 * 1024 * 1024,
    };
  }
  const chunkSize = read('chunkSize');
  if (chunkSize !== undefined) options.chunkSize = chunkSize;
  const pieceSize = read('pieceSize');
  if (pieceSize !== undefined) options.pieceSize = pieceSize;
  return options;
}
