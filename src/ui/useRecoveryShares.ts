import { useCallback, useEffect, useState } from 'react';
import type { TrustClient, TrustRecoveryShare, TrustState } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { errorMessage } from './format.ts';

/**
 * The recovery shares this agent made (`mine`: its own setup) and holds for others (`held`),
 * read from the trust layer when it connects and on `refresh()`.
 */
export function useRecoveryShares(trust: TrustClient | undefined) {
  const [shares, setShares] = useState<TrustRecoveryShare[]>();
  const [error, setError] = useState<string>();

  const refresh = useCallback(async () => {
    if (trust?.state.status !== 'connected') return;
    try {
      setShares(await trust.myRecoveryShares());
      setError(undefined);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [trust]);

  useEffect(() => {
    if (!trust) return;
    void refresh();
    return listen<TrustState>(trust, 'state', (s) => {
      if (s.status === 'connected') void refresh();
    });
  }, [trust, refresh]);

  return {
    mine: shares?.filter((s) => s.owner === trust?.me),
    held: shares?.filter((s) => s.guardian === trust?.me),
    error,
    refresh,
  };
}
