/**
 * The part of `src/erasure` this store uses, loaded lazily: the WASM kernels compile with a
 * top-level await, and a store holding only small blobs never needs them.
 */
export interface ErasureApi {
  readonly DATA_SHARDS: number;
  readonly TOTAL_SHARDS: number;
  StripeEncoder: new (
    stripeBytesPerShard: number,
  ) => {
    readonly data: readonly Uint8Array[];
    readonly parity: readonly Uint8Array[];
    encode(len?: number): void;
    dispose(): void;
  };
  reconstructShards(shards: readonly (Uint8Array | null | undefined)[]): Uint8Array[];
}

let loading: Promise<ErasureApi> | undefined;

export function loadErasure(): Promise<ErasureApi> {
  loading ??= import('../erasure/index.ts');
  return loading;
}
