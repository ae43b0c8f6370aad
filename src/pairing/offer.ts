/**
 * Device 1's side of pairing: "Add a device" opens an offer — a one-time link (token, this
 * device's PeerId and addresses) and a handler for `/elohim/pair/1.0.0` that lives only as
 * long as the offer. The first device to present the token gets the terms; a wrong token is
 * refused, and three wrong ones close the offer. Once this person confirmed the code and the
 * new device agreed (its signature), the agent key certifies it in the trust layer and the
 * person's keys and lists go over the same authenticated stream. Single use, expiring.
 */
import type { Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { type AgentKey, agentKeyFromEd25519, agentKeyOfPeer } from '../reach/index.ts';
import type { DeviceCertificate, TrustDevice } from '../trust/index.ts';
import {
  deviceCertificateTerms,
  signDeviceTerms,
  verifyDeviceCertificate,
} from '../trust/index.ts';
import {
  errorMessage,
  logger,
  MAX_DEVICE_NAME,
  TypedEventEmitter,
  toBase64Url,
  withSignal,
} from '../wire/index.ts';
import { PairingError } from './errors.ts';
import {
  MAX_OFFER_FRAME,
  PAIR_PROTOCOL,
  pairingCode,
  pairingLink,
  readMessage,
  sendMessage,
} from './protocol.ts';

const log = logger('pairing');

export type OfferState =
  | { step: 'waiting' }
  /** A device presented the token: show `code`, ask the person whether it matches. */
  | { step: 'confirm'; code: string; name: string; device: AgentKey }
  | { step: 'adding'; name: string }
  | { step: 'done'; device: TrustDevice }
  | { step: 'failed'; message: string }
  | { step: 'expired' };

export interface PairingOfferInit {
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle'>;
  /** The person's agent key: it signs the new device's certificate. */
  agentKey: PrivateKey;
  /** Where this device can be dialled (the node's dial addresses). */
  addrs: string[];
  /** The app's origin, for the link. */
  origin: string;
  /** Publishes the certificate (the trust client's `addDevice`). */
  addDevice: (cert: DeviceCertificate) => Promise<TrustDevice>;
  /** What the new device receives: the person's backup payload as JSON, private items included. */
  payload: () => Promise<string>;
  /** How long the link works. Default 10 minutes. */
  ttlMs?: number;
}

const MAX_WRONG_TOKENS = 3;

export class PairingOffer extends TypedEventEmitter<{ change: CustomEvent<OfferState> }> {
  readonly link: string;
  readonly expiresAt: number;
  #state: OfferState = { step: 'waiting' };
  readonly #token = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  readonly #init: PairingOfferInit;
  readonly #agent: AgentKey;
  readonly #abort = new AbortController();
  #wrong = 0;
  #busy = false;
  #confirmed: (() => void) | undefined;
  readonly #timer: ReturnType<typeof setTimeout>;

  private constructor(init: PairingOfferInit) {
    super();
    this.#init = init;
    this.#agent = agentKeyFromEd25519(init.agentKey.publicKey.raw);
    this.expiresAt = Date.now() + (init.ttlMs ?? 10 * 60_000);
    this.link = pairingLink(init.origin, {
      peer: init.libp2p.peerId.toString(),
      token: this.#token,
      addrs: init.addrs,
    });
    this.#timer = setTimeout(() => this.#end({ step: 'expired' }), this.expiresAt - Date.now());
  }

  /** Opens an offer: its handler is registered until it ends (done, failed, expired, closed). */
  static async open(init: PairingOfferInit): Promise<PairingOffer> {
    const offer = new PairingOffer(init);
    await init.libp2p.handle(PAIR_PROTOCOL, (stream, connection) => {
      void offer.#serve(stream, connection.remotePeer).catch(() => {});
    });
    return offer;
  }

  get state(): OfferState {
    return this.#state;
  }

  /** The person saw the same code on both screens. */
  confirm(): void {
    this.#confirmed?.();
  }

  /** Ends the offer; a pairing in progress is cancelled. */
  close(): void {
    this.#end({ step: 'failed', message: 'Pairing was cancelled.' });
  }

  #set(state: OfferState): void {
    this.#state = state;
    this.safeDispatchEvent('change', { detail: state });
  }

  #end(state: OfferState): void {
    if (this.#abort.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#abort.abort();
    void this.#init.libp2p.unhandle(PAIR_PROTOCOL);
    this.#set(state);
  }

  async #serve(stream: Stream, remote: PeerId) {
    const signal = this.#abort.signal;
    const refuse = async (reason: string) => {
      await sendMessage(stream, { t: 'cancel', reason }).catch(() => {});
      await stream.close().catch(() => stream.abort(new Error(reason)));
    };
    if (signal.aborted || this.#busy) {
      return refuse('This device is already pairing another one, or the link has expired.');
    }
    const device = agentKeyOfPeer(remote);
    if (!device) return refuse('Only a browser of this app can be paired.');
    try {
      const hello = await readMessage(stream, 'hello', {
        maxBytes: MAX_OFFER_FRAME,
        timeoutMs: 20_000,
        signal,
      });
      if (this.#busy || signal.aborted) return refuse('This link is already being used.');
      if (hello.token !== this.#token) {
        if (++this.#wrong >= MAX_WRONG_TOKENS) {
          this.#end({ step: 'failed', message: 'Wrong pairing links were tried: make a new one.' });
        }
        return refuse('This pairing link is not valid: it expired, or was used. Make a new one.');
      }
      // One use: whatever happens next, this token is spent.
      this.#busy = true;
      const addedAt = Date.now();
      // A name it cannot use is not worth failing the pairing for.
      const asked =
        typeof hello.name === 'string' ? hello.name.trim().slice(0, MAX_DEVICE_NAME) : '';
      const terms = deviceCertificateTerms(this.#agent, device, asked || 'New device', addedAt);
      await sendMessage(
        stream,
        { t: 'terms', agent: this.#agent, name: terms.name, added_at: addedAt },
        signal,
      );
      const code = pairingCode(
        this.#token,
        this.#init.libp2p.peerId.toString(),
        remote.toString(),
        this.#agent,
      );
      const confirmed = new Promise<void>((resolve) => {
        this.#confirmed = resolve;
      });
      this.#set({ step: 'confirm', code, name: terms.name, device });
      const agree = readMessage(stream, 'agree', {
        maxBytes: MAX_OFFER_FRAME,
        timeoutMs: Math.max(0, this.expiresAt - Date.now()),
        signal,
      });
      const [{ device_signature }] = await Promise.all([agree, withSignal(confirmed, signal)]);
      const cert: DeviceCertificate = {
        agent: this.#agent,
        device,
        name: terms.name,
        addedAt,
        signature: await signDeviceTerms(this.#init.agentKey, terms),
        deviceSignature: device_signature,
      };
      if (!(await verifyDeviceCertificate(cert))) {
        throw new PairingError("The new device's signature does not match what was agreed.");
      }
      this.#set({ step: 'adding', name: terms.name });
      const added = await this.#init.addDevice(cert);
      await sendMessage(
        stream,
        {
          t: 'welcome',
          certificate: {
            agent: cert.agent,
            device: cert.device,
            name: cert.name,
            added_at: cert.addedAt,
            signature: cert.signature,
            device_signature: cert.deviceSignature,
          },
          payload: await this.#init.payload(),
        },
        signal,
      );
      await stream.close().catch(() => {});
      log('paired %s as "%s"', device, terms.name);
      this.#end({ step: 'done', device: added });
    } catch (error) {
      const message = signal.aborted ? 'Pairing was cancelled.' : errorMessage(error);
      await refuse(message);
      if (this.#busy) this.#end({ step: 'failed', message });
    }
  }
}
