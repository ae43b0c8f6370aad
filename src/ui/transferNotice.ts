/**
 * Telling a person in another tab that a long transfer finished: a system notification when
 * they allowed it (asked only when they click "Notify me", never on load), otherwise the tab's
 * title, until they come back to it.
 */

/** Shorter transfers end while the person still looks at them. */
export const LONG_TRANSFER_MS = 8_000;

export type DoneNotice = 'notification' | 'title' | 'none';

/** How to say a transfer of `elapsedMs` finished, given where the person is. */
export function doneNotice(options: {
  hidden: boolean;
  elapsedMs: number;
  permission: NotificationPermission | 'unsupported';
}): DoneNotice {
  if (!options.hidden || options.elapsedMs < LONG_TRANSFER_MS) return 'none';
  return options.permission === 'granted' ? 'notification' : 'title';
}

function permission(): NotificationPermission | 'unsupported' {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Whether "Notify me" can do anything: supported, and not answered yet. */
export function mayAskToNotify(): boolean {
  return permission() === 'default';
}

/** Asks for permission to notify; call only from a click. */
export async function askToNotify(): Promise<NotificationPermission | 'unsupported'> {
  if (permission() === 'unsupported') return 'unsupported';
  return Notification.requestPermission();
}

/** Says that `name` was fetched, if the person is elsewhere and it took a while. Never throws. */
export function noticeFetched(name: string, startedAt: number): void {
  const how = doneNotice({
    hidden: document.hidden,
    elapsedMs: performance.now() - startedAt,
    permission: permission(),
  });
  if (how === 'notification') void notify(name).catch(() => markTitle(name));
  else if (how === 'title') markTitle(name);
}

/**
 * Through the service worker when there is one: where only it may show notifications (Chrome
 * on Android), `new Notification` throws.
 */
async function notify(name: string): Promise<void> {
  const options = { body: 'Fetched and verified.', tag: `fetched-${name}` };
  const registration = await navigator.serviceWorker?.getRegistration();
  if (registration) await registration.showNotification(`${name} is here`, options);
  else new Notification(`${name} is here`, options);
}

/** "✓ name fetched · …" in the tab's title until the person comes back to it. */
function markTitle(name: string): void {
  const title = document.title;
  document.title = `✓ ${name} fetched · ${title}`;
  document.addEventListener('visibilitychange', function restore() {
    if (document.hidden) return;
    document.title = title;
    document.removeEventListener('visibilitychange', restore);
  });
}
