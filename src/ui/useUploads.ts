import { useEffect, useState } from 'react';
import type { Upload } from '../net/index.ts';
import { listen } from '../wire/index.ts';
import type { PeerState } from './usePeerNode.ts';

/** What this browser is sending to others now (and sent a moment ago), kept current. */
export function useUploads(peer: PeerState): readonly Upload[] {
  const service = peer.status === 'running' ? peer.service : undefined;
  const [uploads, setUploads] = useState<readonly Upload[]>([]);
  useEffect(() => {
    if (!service) {
      setUploads([]);
      return;
    }
    const update = () => setUploads(service.uploads());
    update();
    return listen(service, 'uploads', update);
  }, [service]);
  return uploads;
}
