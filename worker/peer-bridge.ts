/// <reference lib="webworker" />
import type { BridgeCancel, BridgeReply, BridgeRequest } from './bridge-protocol.ts';

declare const self: ServiceWorkerGlobalScope;

/** A window of the app did not take the request (none open, or none answered). */
export class NoWindowError extends Error {
  override name = 'NoWindowError';
  constructor() {
    super(
      'This content is not stored in this browser, and no tab of the app is open to fetch it ' +
        'from peers. Open the app in a tab, then load this link again.',
    );
  }
}

/** What a window answers after its `ack`. */
type Answer = Exclude<BridgeReply, { type: 'ack' }>;

/** Time a window has to acknowledge a request before the next one is tried. */
const ACK_MS = 2_000;

function ask(
  client: Client,
  request: BridgeRequest,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Answer | 'no-ack'> {
  const channel = new MessageChannel();
  return new Promise<Answer | 'no-ack'>((resolve, reject) => {
    let timer = setTimeout(() => finish(() => resolve('no-ack')), ACK_MS);
    const onAbort = () => {
      channel.port1.postMessage({ type: 'cancel' } satisfies BridgeCancel);
      finish(() => reject(signal?.reason));
    };
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      channel.port1.close();
      settle();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    channel.port1.onmessage = (event: MessageEvent<BridgeReply>) => {
      const reply = event.data;
      if (reply.type !== 'ack') return finish(() => resolve(reply));
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(
                `the app did not answer within ${timeoutMs / 1000} s. ` +
                  'Check that it is online, then load this link again.',
              ),
            ),
          ),
        timeoutMs,
      );
    };
    client.postMessage(request, [channel.port2]);
  });
}

/**
 * Sends `request` to the window that made the HTTP request first (it is showing the video),
 * then to the app's other windows, until one acknowledges it; resolves with its answer.
 */
export async function askWindow(
  clientId: string | undefined,
  request: BridgeRequest,
  { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal },
): Promise<BridgeReply & { type: 'ok' }> {
  const own = clientId ? await self.clients.get(clientId) : undefined;
  const answer = own ? await ask(own, request, timeoutMs, signal) : 'no-ack';
  if (answer !== 'no-ack') return settled(answer);
  // The other windows only when this one did not take it: listing them costs a round trip to
  // the browser, on every range.
  const others = (await self.clients.matchAll({ type: 'window' })).filter((c) => c.id !== clientId);
  for (const client of others) {
    const reply = await ask(client, request, timeoutMs, signal);
    if (reply !== 'no-ack') return settled(reply);
  }
  throw new NoWindowError();
}

/** The answer a window sent: its result, or its error thrown. */
function settled(reply: Answer): BridgeReply & { type: 'ok' } {
  if (reply.type === 'ok') return reply;
  const error = new Error(reply.message);
  error.name = reply.name;
  throw error;
}
