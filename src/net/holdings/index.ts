/**
 * `/elohim/holdings/1.0.0`: a browser tells its doorway which commons items it holds, so the
 * doorway provides them in the DHT and pulls them through for others (browsers do not run
 * kad-dht). The browser side is {@link HoldingsAnnouncer}; the doorway's side lives in
 * `doorway/federation/`.
 *
 *   const announcer = new HoldingsAnnouncer(peerNode, store); // … announcer.stop()
 */
export {
  HoldingsAnnouncer,
  type HoldingsAnnouncerOptions,
  type HoldingsNode,
  MAX_ANNOUNCED,
} from './announcer.ts';
export {
  decodeHoldings,
  decodeHoldingsAnswer,
  encodeHoldings,
  encodeHoldingsAnswer,
  HOLDINGS_PROTOCOL,
  type HoldingsAnswer,
  type HoldingsUpdate,
  MAX_HASHES_PER_MESSAGE,
  MAX_HOLDINGS_ANSWER_BYTES,
  MAX_HOLDINGS_FRAME_BYTES,
} from './codec.ts';
export { HoldingsRefusedError } from './errors.ts';
