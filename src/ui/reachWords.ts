import type { Reach } from '../content/index.ts';

/**
 * Who may receive an item, in words a person uses (the reach names stay in the technical
 * details). Said wherever a link or an item is shown, so sharing never promises more than the
 * reach allows.
 */
const REACH_WORDS: Partial<Record<Reach, { who: string; link: string }>> = {
  commons: {
    who: 'Anyone with the link',
    link: 'Anyone who opens the link gets the file from the people who hold it, this browser included while it is open.',
  },
  local: {
    who: 'Only your family',
    link: 'Only your family can open it: for anyone else the link leads nowhere.',
  },
  invited: {
    who: 'Only the people you named',
    link: 'Only the people you named can open it: for anyone else the link leads nowhere.',
  },
  private: {
    who: 'Only you, on your devices',
    link: 'Only your own devices can open it: for anyone else the link leads nowhere.',
  },
};

/** The words for `reach`; the wider trust reaches (neighborhood…regional) are named as they are. */
export function reachWords(reach: string): { who: string; link: string } {
  return (
    REACH_WORDS[reach as Reach] ?? {
      who: `People in your ${reach}`,
      link: `Only people in your ${reach} can open the link.`,
    }
  );
}
