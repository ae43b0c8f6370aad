/** Typed errors of doorway federation; messages say what to do. */

/** A `--peers` entry that is neither a doorway multiaddr nor a doorway URL. */
export class PeerListError extends Error {
  override name = 'PeerListError';
}

/** A doorway URL whose `/api/v1/p2p/info` could not be read as a doorway's. */
export class DoorwayInfoError extends Error {
  override name = 'DoorwayInfoError';
  constructor(url: string, why: string) {
    super(`${url} did not answer as a doorway (${why}): check the URL in --peers`);
  }
}
