import type { Page } from '@playwright/test';

/**
 * What a person could read as protocol detail: a sha256 hex, a long hex run, a PeerId, an
 * agent key, an encoding's name, the conductor. Links in inputs (share and contact links carry
 * hashes and keys by design) are not text on the page.
 */
export const JARGON =
  /sha256|[0-9a-f]{16,}|12D3Koo|uhCAk|\bbafk|\bnone\b|\bchunked\b|rs-4-7|conductor|holochain|Local #|Backfill|Outlier/i;

/** The text a person sees in `selector` now: rendered text nodes only (closed disclosures are not). */
export function visibleText(page: Page, selector = 'body'): Promise<string> {
  return page.evaluate((selector) => {
    const root = document.querySelector(selector);
    if (!root) return '';
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const parts: string[] = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent?.checkVisibility() && parent.closest('script,style') === null) {
        parts.push(node.textContent ?? '');
      }
    }
    return parts.join(' ');
  }, selector);
}
