import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import {
  EncodedPacket,
  EncodedVideoPacketSource,
  Output,
  StreamTarget,
  type StreamTargetChunk,
  WebMOutputFormat,
} from 'mediabunny';
import { hashFile, type TestFile } from './files.ts';

const WIDTH = 1280;
const HEIGHT = 720;
/** Distinct frames encoded by the browser; the file cycles through them. */
const DISTINCT_FRAMES = 6;
const FRAME_SECONDS = 0.5;

/**
 * A real, seekable WebM (VP8, every frame a keyframe, Cues) of about `size` bytes. The page
 * (any secure origin) encodes a few frames of noise with WebCodecs, so they are big and
 * incompressible; Node muxes them with mediabunny, repeating them until the file is `size`.
 * Returns the file and its duration in seconds.
 */
export async function writeTestVideo(
  page: Page,
  dir: string,
  name: string,
  size: number,
): Promise<TestFile & { durationS: number }> {
  const frames = await page.evaluate(
    async ({ width, height, count }) => {
      const packets: string[] = [];
      let failure: unknown;
      const encoder = new VideoEncoder({
        output: (chunk) => {
          const bytes = new Uint8Array(chunk.byteLength);
          chunk.copyTo(bytes);
          let text = '';
          for (let i = 0; i < bytes.length; i += 0x8000) {
            text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          }
          packets.push(btoa(text));
        },
        error: (e) => {
          failure = e;
        },
      });
      encoder.configure({ codec: 'vp8', width, height, bitrate: 400_000_000, framerate: 2 });
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
      for (let i = 0; i < count; i++) {
        const image = ctx.createImageData(width, height);
        for (let k = 0; k < image.data.length; k += 65_536) {
          crypto.getRandomValues(image.data.subarray(k, k + 65_536));
        }
        ctx.putImageData(image, 0, 0);
        const frame = new VideoFrame(canvas, { timestamp: i * 500_000 });
        encoder.encode(frame, { keyFrame: true });
        frame.close();
      }
      await encoder.flush();
      if (failure) throw failure;
      return packets;
    },
    { width: WIDTH, height: HEIGHT, count: DISTINCT_FRAMES },
  );
  const packets = frames.map((b64) => new Uint8Array(Buffer.from(b64, 'base64')));
  const frameBytes = packets.reduce((n, p) => n + p.byteLength, 0) / packets.length;
  const count = Math.max(2, Math.round(size / frameBytes));

  const path = join(dir, name);
  const file = await open(path, 'w');
  try {
    const target = new WritableStream<StreamTargetChunk>({
      write: async ({ data, position }) => {
        await file.write(data, 0, data.byteLength, position);
      },
    });
    const output = new Output({ format: new WebMOutputFormat(), target: new StreamTarget(target) });
    const source = new EncodedVideoPacketSource('vp8');
    output.addVideoTrack(source, { frameRate: 1 / FRAME_SECONDS });
    await output.start();
    for (let i = 0; i < count; i++) {
      const data = packets[i % packets.length] as Uint8Array;
      const packet = new EncodedPacket(data, 'key', i * FRAME_SECONDS, FRAME_SECONDS);
      await source.add(
        packet,
        i === 0 ? { decoderConfig: { codec: 'vp8', codedWidth: WIDTH, codedHeight: HEIGHT } } : {},
      );
    }
    await output.finalize();
  } finally {
    await file.close();
  }

  const { size: bytes } = await stat(path);
  return { path, name, size: bytes, hash: await hashFile(path), durationS: count * FRAME_SECONDS };
}
