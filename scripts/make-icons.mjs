/**
 * Draws the app's icons (PNG, for the web app manifest) from code, so no binary image is kept in
 * the repository: a ring of seven dots (the 7 shards of rs-4-7, four of them filled: any four
 * rebuild the whole) on the theme colour. `maskable` keeps the drawing inside the safe zone
 * (the inner 80%), as Android crops maskable icons to shapes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BACKGROUND = [0x1f, 0x3a, 0x8a];
const FILLED = [0xff, 0xff, 0xff];
const HOLLOW = [0x9d, 0xb4, 0xf0];

function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x + 0.5, y + 0.5);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function icon(size, { maskable }) {
  const c = size / 2;
  const scale = maskable ? 0.8 : 1;
  const ring = size * 0.3 * scale;
  const dot = size * 0.085 * scale;
  const dots = Array.from({ length: 7 }, (_, i) => {
    const angle = -Math.PI / 2 + (i * 2 * Math.PI) / 7;
    return { x: c + ring * Math.cos(angle), y: c + ring * Math.sin(angle), filled: i < 4 };
  });
  const corner = maskable ? 0 : size * 0.2;
  return png(size, (x, y) => {
    // Rounded square background (full bleed when maskable), anti-aliased by distance.
    const dx = Math.max(corner - x, x - (size - corner), 0);
    const dy = Math.max(corner - y, y - (size - corner), 0);
    const outside = Math.hypot(dx, dy) - corner;
    const alpha = Math.round(255 * Math.min(Math.max(0.5 - outside, 0), 1));
    let color = BACKGROUND;
    for (const d of dots) {
      const distance = Math.hypot(x - d.x, y - d.y);
      const cover = Math.min(Math.max(dot - distance + 0.5, 0), 1);
      const hollow = !d.filled && distance < dot * 0.55;
      if (cover > 0 && !hollow) {
        const target = d.filled ? FILLED : HOLLOW;
        color = color.map((v, k) => Math.round(v + (target[k] - v) * cover));
      }
    }
    return [...color, alpha];
  });
}

const out = new URL('../public/icons/', import.meta.url);
mkdirSync(out, { recursive: true });
for (const [name, size, maskable] of [
  ['icon-192.png', 192, false],
  ['icon-512.png', 512, false],
  ['maskable-512.png', 512, true],
  ['apple-touch-icon.png', 180, true],
]) {
  writeFileSync(new URL(name, out), icon(size, { maskable }));
}
