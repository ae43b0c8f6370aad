/**
 * Pairing a new device with a person (docs/design.md §2, "Pairing"): device 1 offers a
 * one-time link; device 2 opens it, both show a short code, each person confirms, and device 2
 * becomes one of the person's devices — a certificate both keys signed, in the trust layer —
 * with the person's agent key, family key, contacts, settings and items (README.md beside this).
 *
 *   // device 1
 *   const offer = await PairingOffer.open({ libp2p, agentKey, addrs, origin, addDevice, payload });
 *   show(offer.link);  listen(offer, 'change', (s) => s.step === 'confirm' && ask(s.code));
 *   offer.confirm();
 *   // device 2, at /pair#…
 *   const join = PairingJoin.start({ libp2p, deviceKey, link: parsePairingLink(location.href), name });
 *   join.confirm();   // then, on 'done': stageRestore(payload, undefined, { pair: true })
 */
export { InvalidPairingLinkError, PairingError, PairingRefusedError } from './errors.ts';
export { type JoinInit, type JoinState, PairingJoin } from './join.ts';
export { type OfferState, PairingOffer, type PairingOfferInit } from './offer.ts';
export {
  PAIR_PATH,
  PAIR_PROTOCOL,
  type PairingLink,
  pairingCode,
  pairingLink,
  parsePairingLink,
} from './protocol.ts';
