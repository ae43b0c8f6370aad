import type { Page } from '@playwright/test';

// biome-ignore lint/suspicious/noExplicitAny: any function shape a bench page exposes
type Methods = Record<string, (...args: any[]) => unknown>;

/**
 * A typed caller for the object a bench page puts on `window[global]`:
 * `const call = pageCaller<NetworkBench>('networkBench'); await call(page, 'fetch', hash)`.
 */
export function pageCaller<Bench extends Methods>(global: string) {
  return <K extends keyof Bench & string>(
    page: Page,
    name: K,
    ...args: Parameters<Bench[K]>
  ): Promise<Awaited<ReturnType<Bench[K]>>> =>
    page.evaluate(
      ({ global, name, args }) => {
        const bench = (
          window as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>
        )[global];
        return bench?.[name]?.(...args);
      },
      { global, name, args: args as unknown[] },
    ) as Promise<Awaited<ReturnType<Bench[K]>>>;
}
