import { useEffect, useState } from 'react';
import { logger } from '../wire/index.ts';
import { errorMessage } from './format.ts';

const log = logger('qr');

/** A QR code for `text`, as a PNG data URL (undefined while it is drawn, or if it failed). */
export function useQrCode(text: string): string | undefined {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    let live = true;
    setUrl(undefined);
    // Loaded on first use: most visits never share.
    void import('qrcode')
      .then(({ toDataURL }) =>
        toDataURL(text, { errorCorrectionLevel: 'M', margin: 2, width: 240 }),
      )
      .then((drawn) => {
        if (live) setUrl(drawn);
      })
      .catch((error) => log.error('could not draw the QR code: %s', errorMessage(error)));
    return () => {
      live = false;
    };
  }, [text]);
  return url;
}
