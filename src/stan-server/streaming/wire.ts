/**
 * Protobuf wire format primitives (proto3, the subset pb/protocol.proto needs):
 * varints, length-delimited fields, and skipping unknown fields.
 * Readers take Buffer views and return views for `bytes` fields: no copies.
 */

export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError'
}

const TWO_POW_32 = 0x1_0000_0000

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

export class ProtoReader {
  pos = 0
  constructor(readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length
  }

  /** Reads a varint of at most 32 significant bits (tags, lengths, int32, uint32, bool). */
  uint32(): number {
    const buf = this.buf
    let result = 0
    let shift = 0
    for (;;) {
      if (this.pos >= buf.length) throw new MalformedMessageError('truncated varint')
      const b = buf[this.pos++]!
      if (shift < 28) result |= (b & 0x7f) << shift
      else if (shift === 28) result |= (b & 0x0f) << 28
      // Negative int32 values are sign-extended to ten bytes: the extra bytes carry no information.
      if (b < 0x80) return result >>> 0
      shift += 7
      if (shift > 63) throw new MalformedMessageError('varint too long')
    }
  }

  int32(): number {
    return this.uint32() | 0
  }

  /** Reads a 64-bit varint as a JS number (exact up to 2^53, like google-protobuf's number mode). */
  int64(): number {
    const buf = this.buf
    let lo = 0
    let hi = 0
    let shift = 0
    for (;;) {
      if (this.pos >= buf.length) throw new MalformedMessageError('truncated varint')
      const b = buf[this.pos++]!
      const bits = b & 0x7f
      if (shift < 28) lo |= bits << shift
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28
        hi |= bits >>> 4
      } else if (shift < 64) hi |= bits << (shift - 32)
      if (b < 0x80) break
      shift += 7
      if (shift > 63) throw new MalformedMessageError('varint too long')
    }
    if (hi & 0x8000_0000) {
      // Two's complement negative value.
      return -((~hi >>> 0) * TWO_POW_32 + (~lo >>> 0) + 1)
    }
    return (hi >>> 0) * TWO_POW_32 + (lo >>> 0)
  }

  bool(): boolean {
    return this.uint32() !== 0
  }

  /** Returns a view on the field's bytes. */
  bytes(): Buffer {
    const start = this.lengthDelimited('length-delimited field')
    return this.buf.subarray(start, this.pos)
  }

  string(): string {
    const start = this.lengthDelimited('string field')
    return this.buf.toString('utf8', start, this.pos)
  }

  /** Moves past a length-delimited field (`what`, for the error); returns where its bytes start. */
  private lengthDelimited(what: string): number {
    const len = this.uint32()
    const start = this.pos
    if (start + len > this.buf.length) throw new MalformedMessageError(`truncated ${what}`)
    this.pos = start + len
    return start
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.int64()
        return
      case WireType.Fixed64:
        this.pos += 8
        break
      case WireType.LengthDelimited: {
        const len = this.uint32()
        this.pos += len
        break
      }
      case WireType.Fixed32:
        this.pos += 4
        break
      default:
        throw new MalformedMessageError(`unsupported wire type ${wireType}`)
    }
    if (this.pos > this.buf.length) throw new MalformedMessageError('truncated field')
  }
}

/** Size in bytes of `value` as a varint; `value` is a non-negative integer below 2^64. */
export function varintSize(value: number): number {
  if (value < 0) return 10
  if (value < 0x80) return 1
  if (value < 0x4000) return 2
  if (value < 0x20_0000) return 3
  if (value < 0x1000_0000) return 4
  let size = 4
  let v = Math.floor(value / 0x1000_0000)
  while (v > 0) {
    size++
    v = Math.floor(v / 128)
  }
  return size
}

/**
 * Writes into a buffer sized up front by the caller (encoders compute exact sizes,
 * so each message costs one allocation).
 */
export class ProtoWriter {
  pos = 0
  constructor(readonly buf: Buffer) {}

  /** Non-negative integer up to 2^64; negative int32/int64 values go through `int64`. */
  varint(value: number): void {
    const buf = this.buf
    if (value < 0) {
      this.negative(value)
      return
    }
    while (value >= 0x80) {
      buf[this.pos++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    buf[this.pos++] = value
  }

  /** Negative values are written as ten-byte two's complement varints. */
  private negative(value: number): void {
    const magnitude = -value
    let lo = (magnitude % TWO_POW_32) >>> 0
    let hi = Math.floor(magnitude / TWO_POW_32) >>> 0
    // Two's complement of (hi, lo).
    lo = (~lo + 1) >>> 0
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0
    const buf = this.buf
    for (let i = 0; i < 9; i++) {
      buf[this.pos++] = (lo & 0x7f) | 0x80
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi = hi >>> 7
    }
    buf[this.pos++] = lo & 0x01
  }

  tag(field: number, wireType: WireType): void {
    this.varint((field << 3) | wireType)
  }

  bytesField(field: number, value: Uint8Array): void {
    this.tag(field, WireType.LengthDelimited)
    this.varint(value.length)
    this.buf.set(value, this.pos)
    this.pos += value.length
  }

  /** `byteLength` is the caller's precomputed Buffer.byteLength(value). */
  stringField(field: number, value: string, byteLength: number): void {
    this.tag(field, WireType.LengthDelimited)
    this.varint(byteLength)
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8')
  }

  varintField(field: number, value: number): void {
    this.tag(field, WireType.Varint)
    this.varint(value)
  }
}

/** Size of a length-delimited field with a small field number (< 16). */
export function lengthDelimitedSize(byteLength: number): number {
  return 1 + varintSize(byteLength) + byteLength
}

export function varintFieldSize(value: number): number {
  return 1 + varintSize(value)
}
