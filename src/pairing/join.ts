/**
 * The new device's side of pairing: it opens the link, dials the offering device (its own
 * key authenticates it there), asks to join under a name, shows the code, and — once its person
 * confirmed — signs the certificate with its device key. The welcome is checked before
 * anything is kept: a certificate for this very device, signed by both keys, and a payload
 * whose identity is that agent. The caller then stages it (src/backup, `pair`) and reloads.
 */
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { type BackupPayload, payloadFromJson } from '../backup/index.ts';
import { type AgentKey, agentKeyFromEd25519 } from '../reach/index.ts';
import {
  type DeviceCertificate,
  deviceCertificateTerms,
  signDeviceTerms,
  verifyDeviceCertificate,
} from '../trust/index.ts';
import { errorMessage, TypedEventEmitter, withSignal } from '../wire/index.ts';
import { PairingError } from './errors.ts';
import {
  MAX_JOIN_FRAME,
  PAIR_PROTOCOL,
  type PairingLink,
  pairingCode,
  readMessage,
  sendMessage,
} from './protocol.ts';

export type JoinState =
  | { step: 'connecting' }
  /** Show `code`; the person checks that the other device shows the same. */
  | { step: 'confirm'; code: string; agent: AgentKey; name: string }
  | { step: 'waiting' }
  | { step: 'done'; payload: BackupPayload; certificate: DeviceCertificate }
  | { step: 'failed'; message: string };

export interface JoinInit {
  libp2p: Pick<Libp2p, 'peerId' | 'dialProtocol'>;
  /** This device's own key: it signs that it agrees to be the person's device. */
  deviceKey: PrivateKey;
  link: PairingLink;
  /** The name this device asks for ("Phone"). */
  name: string;
  /** Whole pairing, the person's confirmations included. Default 10 minutes. */
  timeoutMs?: number;
}

export class PairingJoin extends TypedEventEmitter<{ change: CustomEvent<JoinState> }> {
  #state: JoinState = { step: 'connecting' };
  readonly #abort = new AbortController();
  #confirmed: (() => void) | undefined;

  private constructor() {
    super();
  }

  /** Starts joining at once; follow `change` (or `state`). */
  static start(init: JoinInit): PairingJoin {
    const join = new PairingJoin();
    void join.#run(init);
    return join;
  }

  get state(): JoinState {
    return this.#state;
  }

  /** The person saw the same code on both screens: this device agrees. */
  confirm(): void {
    this.#confirmed?.();
  }

  cancel(): void {
    this.#abort.abort(new PairingError('Pairing was cancelled.'));
  }

  #set(state: JoinState): void {
    this.#state = state;
    this.safeDispatchEvent('change', { detail: state });
  }

  async #run(init: JoinInit): Promise<void> {
    const signal = AbortSignal.any([
      this.#abort.signal,
      AbortSignal.timeout(init.timeoutMs ?? 10 * 60_000),
    ]);
    let stream: Stream | undefined;
    try {
      const me = agentKeyFromEd25519(init.deviceKey.publicKey.raw);
      stream = await dialOffer(init, signal);
      await sendMessage(stream, { t: 'hello', token: init.link.token, name: init.name }, signal);
      const terms = await readMessage(stream, 'terms', {
        maxBytes: MAX_JOIN_FRAME,
        timeoutMs: 30_000,
        signal,
      });
      const agreed = deviceCertificateTerms(terms.agent, me, terms.name, terms.added_at);
      const code = pairingCode(
        init.link.token,
        init.link.peer,
        init.libp2p.peerId.toString(),
        terms.agent,
      );
      const confirmed = new Promise<void>((resolve) => {
        this.#confirmed = resolve;
      });
      this.#set({ step: 'confirm', code, agent: terms.agent, name: agreed.name });
      await withSignal(confirmed, signal);
      this.#set({ step: 'waiting' });
      await sendMessage(
        stream,
        { t: 'agree', device_signature: await signDeviceTerms(init.deviceKey, agreed) },
        signal,
      );
      // As long as the other person takes to confirm: the whole pairing's deadline bounds it.
      const welcome = await readMessage(stream, 'welcome', { maxBytes: MAX_JOIN_FRAME, signal });
      const c = welcome.certificate;
      const certificate: DeviceCertificate = {
        agent: c?.agent,
        device: c?.device,
        name: c?.name,
        addedAt: c?.added_at,
        signature: c?.signature,
        deviceSignature: c?.device_signature,
      };
      if (
        certificate.agent !== terms.agent ||
        certificate.device !== me ||
        certificate.name !== agreed.name ||
        certificate.addedAt !== terms.added_at ||
        !(await verifyDeviceCertificate(certificate))
      ) {
        throw new PairingError('The other device sent a certificate that is not the one agreed.');
      }
      const payload = payloadFromJson(String(welcome.payload));
      if (payload.agent !== terms.agent) {
        throw new PairingError("The other device sent another person's keys than the one agreed.");
      }
      await stream.close().catch(() => {});
      this.#set({ step: 'done', payload, certificate });
    } catch (error) {
      stream?.abort(error instanceof Error ? error : new Error(String(error)));
      const message = this.#abort.signal.aborted
        ? 'Pairing was cancelled.'
        : signal.aborted
          ? 'Pairing took too long: start again from "Add a device" on your other device.'
          : errorMessage(error);
      this.#set({ step: 'failed', message });
    }
  }
}

/** Tries to reach the offering device this many times (a relayed WebRTC dial can fail once). */
const DIAL_ATTEMPTS = 3;

/** A stream to the offering device: through its link addresses, else by its PeerId alone. */
async function dialOffer(init: JoinInit, signal: AbortSignal): Promise<Stream> {
  const peer = peerIdFromString(init.link.peer);
  const addrs = init.link.addrs.flatMap((a) => {
    try {
      return [multiaddr(a)];
    } catch {
      return [];
    }
  });
  let last: unknown;
  for (let attempt = 1; attempt <= DIAL_ATTEMPTS; attempt++) {
    signal.throwIfAborted();
    try {
      return await init.libp2p.dialProtocol(addrs.length > 0 ? addrs : peer, PAIR_PROTOCOL, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(20_000)]),
      });
    } catch (error) {
      last = error;
      // Refused by the other side (no offer open there) is an answer: no point in trying again.
      if ((error as Error).name === 'UnsupportedProtocolError') break;
    }
  }
  throw new PairingError(
    `Could not reach your other device (${errorMessage(last)}): keep "Add a device" open there, both devices online, and try again.`,
  );
}
