/**
 * Every size and time limit of the trust layer's HTTP routes and app interface, in one place
 * (README.md, "Limits"). Operators change them here; tests pass smaller ones to
 * `startTrustLayer` so they need not wait.
 */
export interface TrustLimits {
  /**
   * Bytes an app websocket may send before it has authenticated, counted on the TCP stream
   * (frame headers included). The authenticate message is about 60 bytes; going over closes
   * the socket at once, so a client cannot make the doorway buffer a large frame unauthenticated.
   */
  preAuthBytes: number;
  /** Largest message after authentication (the `ws` maxPayload): real zome calls are < 64 KiB. */
  maxMessageBytes: number;
  /**
   * Deepest MessagePack nesting accepted, checked before decoding each layer: the frame, the
   * AppRequest, `call_zome`'s signed bytes and the zome payload. Real payloads nest < 8 deep.
   */
  maxDepth: number;
  /** App websockets open but not authenticated yet, across the doorway; more get HTTP 503. */
  maxUnauthenticated: number;
  /** Time an app websocket has to authenticate after the upgrade, then it is closed (1008). */
  authTimeoutMs: number;
  /** Time a closing app websocket has to answer our close frame before it is cut. */
  closeTimeoutMs: number;
  /** Lifetime of a challenge from `POST /hc/challenge`. */
  challengeTtlMs: number;
  /** Challenges outstanding at once; asking for more forgets the oldest. */
  maxChallenges: number;
}

export const DEFAULT_LIMITS: Readonly<TrustLimits> = Object.freeze({
  preAuthBytes: 4 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxDepth: 32,
  maxUnauthenticated: 64,
  authTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  challengeTtlMs: 2 * 60_000,
  maxChallenges: 4096,
});

/** The defaults with `overrides` applied. */
export function trustLimits(overrides: Partial<TrustLimits> = {}): Readonly<TrustLimits> {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
