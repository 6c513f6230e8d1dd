/**
 * Just enough of the protobuf wire format to read BuildKit's status messages
 * (https://protobuf.dev/programming-guides/encoding/): a message is a run of
 * fields, each a varint key `(number << 3) | wireType` and a value. Unknown
 * fields are skipped, so newer daemons that add fields still decode.
 */

/** Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
export type WireType = 0 | 1 | 2 | 5;

/** One field of a message; `varint` for wire type 0, `bytes` for wire type 2. */
export type ProtoField =
  | { number: number; wireType: 0; varint: number }
  | { number: number; wireType: 2; bytes: Uint8Array }
  | { number: number; wireType: 1 | 5 };

/** Malformed protobuf bytes: truncated, or a wire type this reader does not know. */
export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

/**
 * Reads an unsigned varint at `offset`. Values above 2^53 lose precision,
 * which no field BuildKit sends (timestamps, counters, stream numbers) reaches.
 * Negative int64s (10 bytes on the wire) come out as large positive numbers.
 */
export function readVarint(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  let pos = offset;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[pos];
    if (byte === undefined) throw new ProtobufError(`truncated varint at byte ${offset}`);
    pos++;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: pos };
    scale *= 128;
  }
  throw new ProtobufError(`varint longer than 10 bytes at byte ${offset}`);
}

/** Every field of one message, in wire order (repeated fields appear once per element). */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const key = readVarint(bytes, pos);
    pos = key.next;
    const number = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    switch (wireType) {
      case 0: {
        const value = readVarint(bytes, pos);
        pos = value.next;
        fields.push({ number, wireType, varint: value.value });
        break;
      }
      case 2: {
        const length = readVarint(bytes, pos);
        const end = length.next + length.value;
        if (end > bytes.length) {
          throw new ProtobufError(`field ${number} needs ${length.value} bytes past the end`);
        }
        fields.push({ number, wireType, bytes: bytes.subarray(length.next, end) });
        pos = end;
        break;
      }
      case 1:
      case 5: {
        pos += wireType === 1 ? 8 : 4;
        if (pos > bytes.length) throw new ProtobufError(`truncated fixed field ${number}`);
        fields.push({ number, wireType });
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wireType} for field ${number}`);
    }
  }
  return fields;
}

const utf8 = new TextDecoder("utf-8");

/** A length-delimited field as UTF-8 text. */
export function fieldText(field: ProtoField): string {
  return field.wireType === 2 ? utf8.decode(field.bytes) : "";
}
