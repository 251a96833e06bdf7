/**
 * Coalesces a connection's outgoing protocol into one write per flush.
 *
 * Bytes are copied into a slab; a flush hands the filled part to the writer as a view and keeps
 * filling the rest of the same slab, like Node's Buffer pool, so many small flushes do not each pin
 * a whole slab in the socket's queue. When the slab cannot take more, pending bytes are flushed
 * inline and a new slab is started. Slabs start small and double up to slabSize, so idle clients
 * hold little memory.
 */
export class OutboundBuffer {
  private slab: Buffer = Buffer.allocUnsafe(0)
  private start = 0 // first byte not yet handed to the writer
  private end = 0 // next byte to fill
  private nextSlabSize = 1024

  constructor(
    private readonly write: (bytes: Buffer) => void,
    private readonly slabSize = 64 * 1024,
  ) {}

  get pendingBytes(): number {
    return this.end - this.start
  }

  /** Appends a string as UTF-8. */
  writeString(text: string): void {
    // Three bytes per UTF-16 unit is the most UTF-8 can need; measure exactly only when short of room.
    const room = this.slab.length - this.end
    const need = text.length * 3 <= room ? text.length * 3 : Buffer.byteLength(text)
    this.reserve(need)
    this.end += this.slab.write(text, this.end, 'utf8')
  }

  writeBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.slab.set(bytes, this.end)
    this.end += bytes.length
  }

  flush(): void {
    if (this.end === this.start) return
    const bytes = this.slab.subarray(this.start, this.end)
    this.start = this.end
    this.write(bytes)
  }

  private reserve(n: number): void {
    if (this.slab.length - this.end >= n) return
    this.flush()
    this.slab = Buffer.allocUnsafe(Math.max(this.nextSlabSize, n))
    this.nextSlabSize = Math.min(this.nextSlabSize * 2, this.slabSize)
    this.start = 0
    this.end = 0
  }
}
