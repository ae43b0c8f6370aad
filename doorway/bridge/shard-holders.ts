/**
 * Holders that speak only the shard protocol (Rust storage nodes): where a miss goes when no
 * peer of ours has the item.
 *
 * Such a holder has no piece protocol, so its manifest does not come over libp2p. The Rust code
 * publishes it two ways: as the DNA's `ShardManifest` entry (with `ShardLocation`s naming each
 * holder's HTTP endpoint), and from the holder itself, `GET {endpoint}/manifest/{hash}` on
 * elohim-storage's HTTP API (JSON). Without the DNA's content zomes in our trust layer, the
 * bridge asks the holders' endpoints, which the doorway is configured with (`rustStorage`),
 * each paired with the libp2p address it fetches the shards from over TCP. Any of the three
 * Rust manifest shapes is accepted (src/content); the shards are verified against it as they
 * stream, and the blob against its hash, before anything is served.
 */
import { type PeerTarget, readCappedJson } from '../../src/net/index.ts';

/** One Rust holder: its HTTP endpoint (manifests) and its libp2p address (shards). */
export interface RustHolder {
  endpoint: string;
  multiaddr: PeerTarget;
}

/** What a miss needs to fetch from shard-only holders: their manifest and who to ask. */
export interface ShardHolderSource {
  locate(
    hash: string,
    signal: AbortSignal,
  ): Promise<{ manifest: unknown; holders: PeerTarget[] } | undefined>;
}

/** A manifest is a few KiB; more is not a manifest. */
const MAX_MANIFEST_BYTES = 256 * 1024;

async function fetchManifest(
  endpoint: string,
  hash: string,
  signal: AbortSignal,
): Promise<unknown> {
  const url = new URL(
    `manifest/${encodeURIComponent(hash)}`,
    endpoint.endsWith('/') ? endpoint : `${endpoint}/`,
  );
  const response = await fetch(url, { signal, redirect: 'error' });
  if (!response.ok || !response.body) return undefined;
  // Over the cap (declared or read): not a manifest; the caller treats it as no answer.
  return readCappedJson(response, MAX_MANIFEST_BYTES);
}

/**
 * Asks every holder's endpoint for the manifest at once; the first one that has it is used, and
 * every holder that has it is asked for shards.
 */
export function httpShardHolders(holders: readonly RustHolder[]): ShardHolderSource {
  return {
    async locate(hash, signal) {
      const answers = await Promise.all(
        holders.map((h) => fetchManifest(h.endpoint, hash, signal).catch(() => undefined)),
      );
      const first = answers.findIndex((a) => a !== undefined);
      if (first < 0) return undefined;
      return {
        manifest: answers[first],
        holders: holders.filter((_, i) => answers[i] !== undefined).map((h) => h.multiaddr),
      };
    },
  };
}

/**
 * `--rust-storage`: comma-separated `URL=MULTIADDR` pairs, each a Rust storage node's HTTP
 * endpoint and the TCP multiaddr of its libp2p node. Throws a `RangeError` saying what is wrong.
 */
export function parseRustStorage(text: string): { endpoint: string; multiaddr: string }[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const endpoint = pair.slice(0, at);
      const ma = pair.slice(at + 1);
      if (at < 0 || !/^https?:\/\//.test(endpoint) || !ma.startsWith('/')) {
        throw new RangeError(
          `--rust-storage takes URL=MULTIADDR pairs, e.g. http://10.0.0.5:8090=/ip4/10.0.0.5/tcp/4001/p2p/12D3…, got "${pair}"`,
        );
      }
      return { endpoint, multiaddr: ma };
    });
}
