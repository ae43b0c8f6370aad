/**
 * A WebRTC connection whose other end hung up closes at once, not 10–15 s later.
 *
 * When the other browser closes its `RTCPeerConnection` (a tab closed or reloaded, libp2p
 * hanging up), this side's SCTP and DTLS transports close within milliseconds, but its
 * `connectionState` turns 'disconnected' only when ICE consent fails (about 8 s in Chromium)
 * and 'failed' later still. libp2p's WebRTC transport ends a connection only on 'failed' or
 * 'closed', so it kept the dead one until a ping timed out: a dial to that peer (back with
 * the same PeerId after a reload) was handed the dead connection, or refused once dead ones
 * filled `maxConnections` (js-libp2p issue 1835; go-libp2p closes on the remote's close).
 *
 * This subclass reports 'failed' once its DTLS transport has closed or failed while the
 * connection was not closed here, and fires `connectionstatechange` so libp2p closes it.
 * `@libp2p/webrtc` reads `globalThis.RTCPeerConnection` when its module is evaluated: this
 * module is imported before it (network.ts), and installs itself where there is WebRTC.
 */

const Native = (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;

/** The `RTCPeerConnection` that says when the other end hung up. */
export const HangupAwarePeerConnection = Native && hangupAware(Native);

function hangupAware(Base: typeof RTCPeerConnection): typeof RTCPeerConnection {
  return class HangupAware extends Base {
    #hungUp = false;

    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      // The SCTP transport exists once the connection has been negotiated.
      const watch = () => {
        const dtls = this.sctp?.transport;
        if (!dtls) return;
        this.removeEventListener('connectionstatechange', watch);
        dtls.addEventListener('statechange', () => {
          if (dtls.state !== 'closed' && dtls.state !== 'failed') return;
          // Closed here (close() fires no event, but be sure): nothing to report.
          if (this.#hungUp || super.connectionState === 'closed') return;
          this.#hungUp = true;
          this.dispatchEvent(new Event('connectionstatechange'));
        });
      };
      this.addEventListener('connectionstatechange', watch);
    }

    override get connectionState(): RTCPeerConnectionState {
      return this.#hungUp && super.connectionState !== 'closed' ? 'failed' : super.connectionState;
    }
  };
}

if (HangupAwarePeerConnection) globalThis.RTCPeerConnection = HangupAwarePeerConnection;
