/**
 * Packs the cached bodies back to back into shared buffers (slabs) of up to 256 KiB, each body a view: those
 * read at warm-up, and those the writer caches after each commit (one allocation per slab, not one per order).
 *
 * Why: at start-up 100,000 bodies are copied out of the driver's read buffers. One malloc'd buffer per body
 * interleaves those long-lived 1.2 KB blocks with the short-lived 64 KiB read buffers in the malloc heap, and the
 * holes left when the read buffers are freed cannot be returned to the system (RSS stayed ~100 MiB above what
 * the cache holds). A few large slabs do not fragment it, and a view costs less per entry than a buffer of its own.
 *
 * What it costs: a slab stays whole while any of its bodies is cached, so its dead bytes are memory the cache
 * still holds. They are counted ({@link slackBytes}) and the cache counts them against its byte budget. A closed
 * slab whose live bytes fall below half its size is reported sparse so its survivors can be moved out (compacted),
 * which bounds the dead bytes to the live bytes of the slabs plus the one slab still being filled.
 */
export class BodySlabs {
  /** Slabs by their memory: a body view finds its slab through `view.buffer`. */
  readonly #slabs = new Map<ArrayBufferLike, Slab>()
  #filling: Slab | undefined
  #slack = 0
  readonly #sparse: Slab[] = []

  /** @param slabBytes size of a slab; a body larger than that gets a buffer of its own. */
  constructor(readonly slabBytes: number) {}

  /** A copy of `bytes` in the slab being filled (a new one when it is full). */
  copy(bytes: Uint8Array): Buffer {
    const view = this.#reserve(bytes.byteLength)
    if (view === undefined) return ownCopy(bytes)
    view.set(bytes)
    return view
  }

  /** `text` as UTF-8 in the slab being filled, like {@link copy}: the writer's bodies, without a buffer each. */
  write(text: string): Buffer {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: with that much room left, the text is encoded straight into the
    // slab and the write says how long it was, rather than a first pass over it measuring it.
    const slab = this.#filling
    if (slab !== undefined && slab.used + 3 * text.length <= slab.size) return this.#take(slab, slab.memory.write(text, slab.used, 'utf8'))
    const length = Buffer.byteLength(text)
    const view = this.#reserve(length)
    const body = view ?? Buffer.allocUnsafeSlow(length)
    body.write(text, 0, length, 'utf8')
    return body
  }

  /** Records which entry holds a body, so a compaction can find the survivors of its slab. */
  adopt(orderUid: string, body: Buffer): void {
    this.#slabs.get(body.buffer)?.uids.push(orderUid)
  }

  /** A body is no longer cached: its bytes become dead (slack) until its slab goes. */
  release(body: Buffer): void {
    const slab = this.#slabs.get(body.buffer)
    if (slab === undefined) return
    slab.live -= body.byteLength
    this.#slack += body.byteLength
    if (slab !== this.#filling) this.#checkSparse(slab)
  }

  /** Stops filling the current slab (end of a warm-up); it is compacted like any other once sparse. */
  close(): void {
    const slab = this.#filling
    this.#filling = undefined
    if (slab !== undefined) this.#checkSparse(slab)
  }

  /** Slabs that should be compacted, each given once. */
  takeSparse(): Slab[] {
    return this.#sparse.splice(0)
  }

  /** The slab is no longer used by any entry (its survivors were moved out): its memory stops counting. */
  forget(slab: Slab): void {
    if (!this.#slabs.delete(slab.memory.buffer)) return
    this.#slack -= slab.size - slab.live
    if (slab === this.#filling) this.#filling = undefined
  }

  /** Slab bytes that hold no cached body: evicted bodies, and the unfilled end of the slab being filled. */
  get slackBytes(): number {
    return this.#slack
  }

  get slabCount(): number {
    return this.#slabs.size
  }

  /** `length` bytes at the end of the slab being filled (a new one when it is full); undefined if over a slab. */
  #reserve(length: number): Buffer | undefined {
    let slab = this.#filling
    if (slab === undefined || slab.used + length > slab.size) {
      if (length > this.slabBytes) return undefined
      this.close()
      slab = this.#filling = newSlab(this.slabBytes)
      this.#slabs.set(slab.memory.buffer, slab)
      this.#slack += slab.size
    }
    return this.#take(slab, length)
  }

  /** The next `length` bytes of the slab, now a cached body's. */
  #take(slab: Slab, length: number): Buffer {
    const view = slab.memory.subarray(slab.used, slab.used + length)
    slab.used += length
    slab.live += length
    this.#slack -= length
    return view
  }

  #checkSparse(slab: Slab): void {
    if (slab.sparse) return
    if (slab.live === 0) this.forget(slab)
    else if (2 * slab.live < slab.size) {
      slab.sparse = true
      this.#sparse.push(slab)
    }
  }
}

export interface Slab {
  readonly memory: Buffer
  readonly size: number
  used: number
  /** Bytes of bodies still cached. */
  live: number
  /** Entries whose bodies were placed here, some gone since. */
  readonly uids: string[]
  /** Already reported for compaction. */
  sparse: boolean
}

function newSlab(size: number): Slab {
  return { memory: Buffer.allocUnsafeSlow(size), size, used: 0, live: 0, uids: [], sparse: false }
}

/** A buffer of its own: unpooled, since a slice of Node's shared 8 KiB pool would keep the whole pool alive. */
export function ownCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
  copy.set(bytes)
  return copy
}
