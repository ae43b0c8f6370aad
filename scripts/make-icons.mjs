/**
 * Renders the app's PNG icons (for the web app manifest, the page and iOS) from the icon's
 * source, `public/icon.svg`, so no binary image is kept in the repository. Only what that
 * file uses is understood — `<title>` (skipped), `<rect>` (with `rx`) and `<circle>` with a
 * `fill` or a `stroke`, colours as `#rrggbb` — anti-aliased by distance; anything else in it
 * fails the build rather than being drawn wrong. `maskable` fills the whole square with the background (the first
 * shape) and shrinks the rest into the safe zone (the inner 80%), as Android crops maskable
 * icons to shapes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SOURCE = new URL('../public/icon.svg', import.meta.url);
const OUT = new URL('../public/icons/', import.meta.url);
const SAFE_ZONE = 0.8;

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

function colour(value, where) {
  if (value === undefined || value === 'none') return undefined;
  const hex = /^#([0-9a-f]{6})$/i.exec(value)?.[1];
  if (!hex) throw new Error(`${where}: colours must be #rrggbb or none, not "${value}"`);
  return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
}

/** The shapes of the SVG, in drawing order, in viewBox units. */
function parse(svg) {
  const text = svg.replace(/<!--[\s\S]*?-->/g, '');
  const viewBox = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(text);
  if (!viewBox || viewBox[1] !== viewBox[2])
    throw new Error('icon.svg: needs a square viewBox at 0 0');
  const shapes = [];
  for (const [, tag, attrs] of text.matchAll(/<(\w+)\b([^>]*)>/g)) {
    if (tag === 'svg' || tag === 'title') continue;
    const a = Object.fromEntries(
      [...attrs.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const n = (key, fallback) => {
      const v = a[key] ?? fallback;
      if (v === undefined || Number.isNaN(Number(v)))
        throw new Error(`icon.svg: <${tag}> needs ${key}`);
      return Number(v);
    };
    const paint = {
      fill: colour(a.fill, `<${tag}> fill`),
      stroke: colour(a.stroke, `<${tag}> stroke`),
      width: n('stroke-width', 0),
    };
    if (tag === 'rect') {
      shapes.push({
        kind: 'rect',
        x: n('x', 0),
        y: n('y', 0),
        w: n('width'),
        h: n('height'),
        rx: n('rx', 0),
        ...paint,
      });
    } else if (tag === 'circle') {
      shapes.push({ kind: 'circle', cx: n('cx'), cy: n('cy'), r: n('r'), ...paint });
    } else {
      throw new Error(
        `icon.svg: <${tag}> is not drawn by scripts/make-icons.mjs (rect and circle are)`,
      );
    }
  }
  return { side: Number(viewBox[1]), shapes };
}

const clamp01 = (v) => Math.min(Math.max(v, 0), 1);

/** How much of the pixel centred at (x, y) the shape's fill and stroke cover, in pixels. */
function cover(shape, x, y) {
  let distance; // signed distance to the outline: negative inside
  if (shape.kind === 'circle') {
    distance = Math.hypot(x - shape.cx, y - shape.cy) - shape.r;
  } else {
    const { x: x0, y: y0, w, h, rx } = shape;
    const dx = Math.max(x0 + rx - x, x - (x0 + w - rx), 0);
    const dy = Math.max(y0 + rx - y, y - (y0 + h - rx), 0);
    const inside = Math.min(
      Math.max(x - x0, 0),
      Math.max(x0 + w - x, 0),
      Math.max(y - y0, 0),
      Math.max(y0 + h - y, 0),
    );
    distance = dx > 0 || dy > 0 ? Math.hypot(dx, dy) - rx : -Math.max(inside, rx);
  }
  return {
    fill: shape.fill ? clamp01(0.5 - distance) : 0,
    stroke: shape.stroke ? clamp01(shape.width / 2 - Math.abs(distance) + 0.5) : 0,
  };
}

/** Paints `rgb` at coverage `a` over the straight-alpha pixel `under`. */
function over(under, rgb, a) {
  const alpha = a + under[3] * (1 - a);
  if (alpha === 0) return under;
  const mix = (k) => (rgb[k] * a + under[k] * under[3] * (1 - a)) / alpha;
  return [mix(0), mix(1), mix(2), alpha];
}

function icon(drawing, size, { maskable }) {
  const k = size / drawing.side;
  const c = drawing.side / 2;
  const [background, ...rest] = drawing.shapes;
  const shrink = (s) =>
    s.kind === 'circle'
      ? {
          ...s,
          cx: c + (s.cx - c) * SAFE_ZONE,
          cy: c + (s.cy - c) * SAFE_ZONE,
          r: s.r * SAFE_ZONE,
          width: s.width * SAFE_ZONE,
        }
      : {
          ...s,
          x: c + (s.x - c) * SAFE_ZONE,
          y: c + (s.y - c) * SAFE_ZONE,
          w: s.w * SAFE_ZONE,
          h: s.h * SAFE_ZONE,
          rx: s.rx * SAFE_ZONE,
          width: s.width * SAFE_ZONE,
        };
  const shapes = maskable
    ? [
        { ...background, kind: 'rect', x: 0, y: 0, w: drawing.side, h: drawing.side, rx: 0 },
        ...rest.map(shrink),
      ]
    : drawing.shapes;
  // In pixels, so anti-aliasing spans one pixel at every size.
  const scaled = shapes.map((s) =>
    s.kind === 'circle'
      ? { ...s, cx: s.cx * k, cy: s.cy * k, r: s.r * k, width: s.width * k }
      : { ...s, x: s.x * k, y: s.y * k, w: s.w * k, h: s.h * k, rx: s.rx * k, width: s.width * k },
  );
  return png(size, (x, y) => {
    let pixel = [0, 0, 0, 0];
    for (const s of scaled) {
      const { fill, stroke } = cover(s, x, y);
      if (fill > 0) pixel = over(pixel, s.fill, fill);
      if (stroke > 0) pixel = over(pixel, s.stroke, stroke);
    }
    return [...pixel.slice(0, 3).map(Math.round), Math.round(pixel[3] * 255)];
  });
}

const drawing = parse(readFileSync(SOURCE, 'utf8'));
mkdirSync(OUT, { recursive: true });
for (const [name, size, maskable] of [
  ['icon-192.png', 192, false],
  ['icon-512.png', 512, false],
  ['maskable-512.png', 512, true],
  ['apple-touch-icon.png', 180, true],
]) {
  writeFileSync(new URL(name, OUT), icon(drawing, size, { maskable }));
}
