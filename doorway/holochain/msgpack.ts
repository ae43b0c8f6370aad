import { decode } from '@msgpack/msgpack';
import { ElohimError } from '../../src/wire/index.ts';

/**
 * MessagePack from clients, decoded only after a cheap look at its structure.
 *
 * @msgpack/msgpack (3.x) has length limits but no depth limit: 16 MiB of `0x91 0x91 …` (an
 * array holding an array holding …) decodes into millions of nested arrays, gigabytes and
 * seconds of a blocked event loop. `checkStructure` walks the bytes first without building
 * anything: it keeps one counter per open container (at most `maxDepth` of them), refuses
 * nesting deeper than `maxDepth`, a container announcing more items than bytes remain (each
 * item takes at least one byte, so no announced length can make the decoder allocate more than
 * the input's size), truncated values, the never-used byte 0xc1 and trailing bytes.
 */

export class StructureError extends ElohimError.named('StructureError') {}

/** Bytes after the type byte that hold a length, for the kinds whose length is stored. */
function lengthField(bytes: Uint8Array, at: number, size: 1 | 2 | 4): number {
  if (at + size > bytes.length) throw new StructureError('truncated MessagePack');
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + (bytes[at + i] as number);
  return value;
}

/**
 * Throws StructureError unless `bytes` is exactly one MessagePack value nested at most
 * `maxDepth` containers deep. Linear in the length, allocation-free but for the depth counters.
 */
export function checkStructure(bytes: Uint8Array, maxDepth: number): void {
  // Items still to read in each open container; the first entry is the one top-level value.
  const open: number[] = [1];
  let pos = 0;
  while (open.length > 0) {
    if (open[open.length - 1] === 0) {
      open.pop();
      continue;
    }
    (open[open.length - 1] as number) -= 1;
    if (pos >= bytes.length) throw new StructureError('truncated MessagePack');
    const type = bytes[pos++] as number;
    let skip = 0;
    let items = -1; // ≥ 0 for a container
    if (type <= 0x7f || type >= 0xe0) {
      // positive / negative fixint
    } else if (type <= 0x8f) {
      items = (type & 0x0f) * 2;
    } else if (type <= 0x9f) {
      items = type & 0x0f;
    } else if (type <= 0xbf) {
      skip = type & 0x1f;
    } else {
      switch (type) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4: // bin 8/16/32, str 8/16/32
        case 0xd9:
          skip = 1 + lengthField(bytes, pos, 1);
          break;
        case 0xc5:
        case 0xda:
          skip = 2 + lengthField(bytes, pos, 2);
          break;
        case 0xc6:
        case 0xdb:
          skip = 4 + lengthField(bytes, pos, 4);
          break;
        case 0xc7: // ext 8/16/32: length, type byte, data
          skip = 2 + lengthField(bytes, pos, 1);
          break;
        case 0xc8:
          skip = 3 + lengthField(bytes, pos, 2);
          break;
        case 0xc9:
          skip = 5 + lengthField(bytes, pos, 4);
          break;
        case 0xca: // float 32/64, uint 8–64, int 8–64
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd4: // fixext 1/2/4/8/16: type byte, data
          skip = 2;
          break;
        case 0xd5:
          skip = 3;
          break;
        case 0xd6:
          skip = 5;
          break;
        case 0xd7:
          skip = 9;
          break;
        case 0xd8:
          skip = 17;
          break;
        case 0xdc: // array 16/32, map 16/32
          items = lengthField(bytes, pos, 2);
          skip = 2;
          break;
        case 0xdd:
          items = lengthField(bytes, pos, 4);
          skip = 4;
          break;
        case 0xde:
          items = 2 * lengthField(bytes, pos, 2);
          skip = 2;
          break;
        case 0xdf:
          items = 2 * lengthField(bytes, pos, 4);
          skip = 4;
          break;
        default:
          throw new StructureError(`0x${type.toString(16)} is not a MessagePack type`);
      }
    }
    pos += skip;
    if (pos > bytes.length) throw new StructureError('truncated MessagePack');
    if (items < 0) continue;
    // The new container sits one level below every container still open.
    if (open.length > maxDepth) {
      throw new StructureError(`nested deeper than ${maxDepth} levels`);
    }
    if (items > bytes.length - pos) {
      throw new StructureError(
        `a container announces ${items} items but only ${bytes.length - pos} bytes follow`,
      );
    }
    if (items > 0) open.push(items);
  }
  if (pos !== bytes.length) {
    throw new StructureError(`${bytes.length - pos} bytes after the MessagePack value`);
  }
}

/** `decode`, after `checkStructure`; both kinds of failure throw with a message that says why. */
export function decodeChecked(bytes: Uint8Array, maxDepth: number): unknown {
  checkStructure(bytes, maxDepth);
  return decode(bytes);
}
