import { hash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { JsonbText, OrderPages, OrderStore } from '../store/orders.js'
import { BodySlabs, ownCopy, type Slab } from './body-slabs.js'
import { MissLimiter } from './miss-limiter.js'

/** One order ready to send: a hit does no JSON work, and hashes the body at most once, at its first read. */
export interface CachedOrder {
  /** The UTF-8 bytes of the stored jsonb text. */
  readonly body: Buffer
  /** A strong ETag, quotes included: orders never change, so the hash of the body identifies it for ever. */
  readonly etag: string
}

/** What a read-through lookup found; errors are values so the HTTP layer picks the status. */
export type LookupResult =
  | { kind: 'hit'; order: CachedOrder }
  /** Not cached, read from the database and now cached. */
  | { kind: 'loaded'; order: CachedOrder }
  /** No such order (from the database, or remembered from a recent miss). */
  | { kind: 'absent' }
  /** Too many database misses in flight and queued: refused without touching the database. */
  | { kind: 'busy' }
  /** The database read failed. */
  | { kind: 'unavailable'; error: unknown }

export interface OrderCacheOptions {
  /** The byte budget (CACHE_MAX_BYTES). */
  maxBytes: number
  /** Where misses are read from: one primary-key query each. */
  store: Pick<OrderStore, 'findBody'>
  /** Database reads for misses at the same time (keep below the pool size so the writer always has connections). */
  maxConcurrentMisses?: number
  /** Misses waiting for a slot before further ones are refused. */
  maxQueuedMisses?: number
  /** How long an unknown id is remembered as absent. Short: an order that arrives later is also cleared by set(). */
  absentTtlMs?: number
  /** How many unknown ids are remembered (the negative cache is an LRU of its own). */
  maxAbsent?: number
  /** Clock for the absent ids' TTL (tests advance it by hand). */
  now?: () => number
}

export interface OrderCacheStats {
  entries: number
  /** What the cache holds against its budget: the entries' sizes plus {@link slackBytes}. */
  bytes: number
  /** Dead bytes in the warm-up's body slabs (src/cache/body-slabs.ts), still held until their slab goes. */
  slackBytes: number
  absentEntries: number
}

/**
 * The cache's own entry: a compaction moves its body out of a sparse slab. The ETag is computed when first asked
 * for: most orders are cached at ingest and many are never looked up, so hashing each at ingest is wasted work.
 */
class Entry implements CachedOrder {
  #etag: string | undefined
  constructor(public body: Buffer) {}

  get etag(): string {
    // One-shot hash: no Hash object (and its native state) per entry for the collector to finalize.
    return (this.#etag ??= `"${hash('sha1', this.body, 'base64url')}"`)
  }
}

/** Largest body slab; a small budget gets slabs of 1/64 of it, so the unfilled end of one stays a small part of it. */
const SLAB_BYTES = 256 * 1024

/**
 * Per-entry memory beside the body bytes and the two strings: the Buffer object (and, for a body of its own,
 * its ArrayBuffer), the CachedOrder object, lru-cache's Map entry and slots in its key, value, size and link
 * arrays. Measured on Node 20 with 100,000 orders of 1,180 B, heap plus buffers after full GCs: 1,599 B retained
 * per entry set one by one (own buffers), 1,548 B per warmed entry (slab views); with the 16 B ids and 29 B
 * ETags that is 342 and 291 B. Rounded up so the byte bound errs on the safe side; bench/cache-warm.ts reports both figures.
 */
export const ENTRY_OVERHEAD_BYTES = 360

/** V8 string header; key and ETag are ASCII, one byte per character. */
const STRING_OVERHEAD_BYTES = 16

/** A SHA-1 in base64url (27 characters) in quotes: counted whether or not it has been computed yet. */
const ETAG_LENGTH = 29

export function entrySize(orderUid: string, order: CachedOrder): number {
  return order.body.byteLength + orderUid.length + ETAG_LENGTH + 2 * STRING_OVERHEAD_BYTES + ENTRY_OVERHEAD_BYTES
}

/** Builds a ready-to-send entry from the stored jsonb text (a string, or its UTF-8 bytes), in a buffer of its own. */
export function toCachedOrder(body: string | Uint8Array): CachedOrder {
  return new Entry(typeof body === 'string' ? utf8Of(body) : ownCopy(body))
}

/** A buffer of its own: Buffer.from(string) would slice Node's shared 8 KiB pool and keep all of it alive. */
function utf8Of(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text))
  bytes.write(text, 'utf8')
  return bytes
}

/**
 * The order cache: an LRU bounded by bytes, warmed newest-first from the database at start-up, filled by the
 * batch writer after each commit, and read through to the database on a miss with three guards against
 * lookups of ids that do not exist: concurrent misses for one id share one query, recent absences are
 * remembered for a short while, and database misses are capped by a {@link MissLimiter}.
 */
export class OrderCache {
  readonly maxBytes: number
  readonly #orders: LRUCache<string, Entry>
  readonly #slabs: BodySlabs
  readonly #absent: LRUCache<string, true>
  readonly #inFlight = new Map<string, Promise<LookupResult>>()
  /** Ids of misses in flight that another instance committed meanwhile: their answer must not be remembered. */
  readonly #committedDuringLoad = new Set<string>()
  readonly #limiter: MissLimiter
  readonly #store: Pick<OrderStore, 'findBody'>

  constructor(options: OrderCacheOptions) {
    this.maxBytes = options.maxBytes
    this.#store = options.store
    const slabs = (this.#slabs = new BodySlabs(Math.min(SLAB_BYTES, Math.floor(options.maxBytes / 64))))
    this.#orders = new LRUCache<string, Entry>({
      maxSize: options.maxBytes,
      sizeCalculation: (order, orderUid) => entrySize(orderUid, order),
      dispose: (order) => slabs.release(order.body),
    })
    const clock = options.now
    this.#absent = new LRUCache<string, true>({
      max: options.maxAbsent ?? 10_000,
      ttl: options.absentTtlMs ?? 2_000,
      ...(clock ? { perf: { now: clock }, ttlResolution: 0 } : {}),
    })
    this.#limiter = new MissLimiter(options.maxConcurrentMisses ?? 4, options.maxQueuedMisses ?? 64)
  }

  /** The cached entry, or undefined: never touches the database. Marks the entry most recently used. */
  get(orderUid: string): CachedOrder | undefined {
    return this.#orders.get(orderUid)
  }

  /** Whether the order is cached, without marking it used. */
  has(orderUid: string): boolean {
    return this.#orders.has(orderUid)
  }

  /** Caches an order just committed; it becomes visible even if its id was recently looked up in vain. */
  set(orderUid: string, body: JsonbText): CachedOrder {
    const order = new Entry(typeof body === 'string' ? this.#slabs.write(body) : this.#slabs.copy(body))
    this.#absent.delete(orderUid)
    this.#orders.set(orderUid, order)
    this.#slabs.adopt(orderUid, order.body)
    this.#settle()
    return order
  }

  /**
   * Orders committed elsewhere (another instance, a replay): ids remembered as unknown are forgotten, so the next
   * lookup reads the database. A miss of one of them in flight now is not remembered either: its query may have
   * read the table just before the commit.
   */
  forgetAbsent(orderUids: Iterable<string>): void {
    for (const orderUid of orderUids) {
      this.#absent.delete(orderUid)
      if (this.#inFlight.has(orderUid)) this.#committedDuringLoad.add(orderUid)
    }
  }

  /** Forgets every id remembered as unknown: commits may have gone unheard (the listening connection was lost). */
  forgetAllAbsent(): void {
    this.#absent.clear()
    for (const orderUid of this.#inFlight.keys()) this.#committedDuringLoad.add(orderUid)
  }

  /**
   * Fills the cache from pages of orders, newest first, until the budget is full; stops reading then, so the
   * rest of the table is never fetched. Bodies are packed into slabs as they are read (src/cache/body-slabs.ts).
   * Entries are inserted oldest first so the newest end up most recently used, and nothing already cached (set
   * by the writer meanwhile) is replaced. Returns how many were added. A read that fails leaves the cache as it
   * was, the bodies read so far let go: the warm-up can be run again.
   */
  async warm(pages: OrderPages): Promise<number> {
    const slabs = this.#slabs
    const chosenUids: string[] = []
    const chosen: Entry[] = []
    try {
      await this.#choose(pages, chosenUids, chosen)
    } catch (error) {
      for (const order of chosen) slabs.release(order.body)
      slabs.close()
      throw error
    }
    slabs.close()
    let added = 0
    for (let i = chosen.length - 1; i >= 0; i--) {
      const orderUid = chosenUids[i]!
      const order = chosen[i]!
      if (this.#orders.has(orderUid)) slabs.release(order.body)
      else {
        this.#orders.set(orderUid, order)
        slabs.adopt(orderUid, order.body)
        added++
      }
    }
    this.#settle()
    return added
  }

  /** Reads pages until the budget is full, copying each body into the slabs; what fits is pushed to the lists. */
  async #choose(pages: OrderPages, chosenUids: string[], chosen: Entry[]): Promise<void> {
    const slabs = this.#slabs
    let budget = this.maxBytes - this.#orders.calculatedSize - slabs.slackBytes
    reading: for await (const page of pages((body) => slabs.copy(body))) {
      for (let i = 0; i < page.length; i++) {
        const stored = page[i]!
        if (this.#orders.has(stored.orderUid)) {
          slabs.release(stored.body)
          continue
        }
        const order = new Entry(stored.body)
        const size = entrySize(stored.orderUid, order)
        if (size > budget) {
          // Copied from the driver already but not cached: the rest of the page is dead bytes.
          for (let j = i; j < page.length; j++) slabs.release(page[j]!.body)
          break reading
        }
        budget -= size
        chosenUids.push(stored.orderUid)
        chosen.push(order)
      }
    }
  }

  /**
   * The order from the cache, else from the database (one primary-key query, then cached).
   * Concurrent misses for the same id share that query.
   */
  lookup(orderUid: string): LookupResult | Promise<LookupResult> {
    const order = this.#orders.get(orderUid)
    if (order !== undefined) return { kind: 'hit', order }
    if (this.#absent.get(orderUid) === true) return { kind: 'absent' }
    const pending = this.#inFlight.get(orderUid)
    if (pending !== undefined) return pending
    const slot = this.#limiter.acquire()
    if (slot === undefined) return { kind: 'busy' }
    const loading = this.#load(orderUid, slot).finally(() => {
      this.#inFlight.delete(orderUid)
      this.#committedDuringLoad.delete(orderUid)
    })
    this.#inFlight.set(orderUid, loading)
    return loading
  }

  stats(): OrderCacheStats {
    const slackBytes = this.#slabs.slackBytes
    return { entries: this.#orders.size, bytes: this.#orders.calculatedSize + slackBytes, slackBytes, absentEntries: this.#absent.size }
  }

  /**
   * Keeps entries plus slab slack within the budget: compacts sparse slabs, then evicts the least recently
   * used while it is still over. Each eviction can only add slack to a slab until it turns sparse and is compacted.
   */
  #settle(): void {
    for (;;) {
      for (const slab of this.#slabs.takeSparse()) this.#compact(slab)
      if (this.#orders.size === 0 || this.#orders.calculatedSize + this.#slabs.slackBytes <= this.maxBytes) return
      this.#orders.pop()
    }
  }

  /** Moves the bodies still cached out of a sparse slab into buffers of their own, so the slab can be freed. */
  #compact(slab: Slab): void {
    for (const orderUid of slab.uids) {
      const order = this.#orders.peek(orderUid)
      // A response being written keeps the old view, and with it the slab, until it is sent.
      if (order !== undefined && order.body.buffer === slab.memory.buffer) order.body = ownCopy(order.body)
    }
    this.#slabs.forget(slab)
  }

  async #load(orderUid: string, slot: Promise<() => void>): Promise<LookupResult> {
    const release = await slot
    try {
      // The writer may have cached it while this miss waited for a slot.
      const cached = this.#orders.get(orderUid)
      if (cached !== undefined) return { kind: 'hit', order: cached }
      const body = await this.#store.findBody(orderUid)
      if (body !== undefined) {
        const order = new Entry(utf8Of(body))
        this.#orders.set(orderUid, order)
        this.#settle()
        return { kind: 'loaded', order }
      }
      // The query may have started before the order's commit and the writer's set(): then it is cached now,
      // and must not be remembered as absent.
      const arrived = this.#orders.get(orderUid)
      if (arrived !== undefined) return { kind: 'hit', order: arrived }
      if (!this.#committedDuringLoad.has(orderUid)) this.#absent.set(orderUid, true)
      return { kind: 'absent' }
    } catch (error) {
      return { kind: 'unavailable', error }
    } finally {
      release()
    }
  }
}
