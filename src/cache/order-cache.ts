import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { OrderStore, StoredOrder } from '../store/orders.js'
import { MissLimiter } from './miss-limiter.js'

/** One order ready to send: a hit does no JSON work and no hashing. */
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
  bytes: number
  absentEntries: number
}

/**
 * Per-entry memory beside the body bytes and the two strings: the Buffer object and its own ArrayBuffer,
 * the CachedOrder object, lru-cache's Map entry and slots in its key, value, size and link arrays.
 * Measured at 245 to 290 B on Node 20 (100,000 orders of ~900 B: 1,214 to 1,270 B retained per entry, heap
 * plus buffers after a full GC); rounded up so the byte bound errs on the safe side. bench/cache-warm.ts reports both figures.
 */
export const ENTRY_OVERHEAD_BYTES = 320

/** V8 string header; key and ETag are ASCII, one byte per character. */
const STRING_OVERHEAD_BYTES = 16

export function entrySize(orderUid: string, order: CachedOrder): number {
  return order.body.byteLength + orderUid.length + order.etag.length + 2 * STRING_OVERHEAD_BYTES + ENTRY_OVERHEAD_BYTES
}

/** Builds a ready-to-send entry from the stored jsonb text (a string, or its UTF-8 bytes). */
export function toCachedOrder(body: string | Uint8Array): CachedOrder {
  // An unpooled buffer: a slice of Node's shared 8 KiB pool (or of a socket read) would keep the whole slab alive.
  const bytes = Buffer.allocUnsafeSlow(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength)
  if (typeof body === 'string') bytes.write(body, 'utf8')
  else bytes.set(body)
  return { body: bytes, etag: `"${createHash('sha1').update(bytes).digest('base64url')}"` }
}

/**
 * The order cache: an LRU bounded by bytes, warmed newest-first from the database at start-up, filled by the
 * batch writer after each commit, and read through to the database on a miss with three guards against
 * lookups of ids that do not exist: concurrent misses for one id share one query, recent absences are
 * remembered for a short while, and database misses are capped by a {@link MissLimiter}.
 */
export class OrderCache {
  readonly maxBytes: number
  readonly #orders: LRUCache<string, CachedOrder>
  readonly #absent: LRUCache<string, true>
  readonly #inFlight = new Map<string, Promise<LookupResult>>()
  readonly #limiter: MissLimiter
  readonly #store: Pick<OrderStore, 'findBody'>

  constructor(options: OrderCacheOptions) {
    this.maxBytes = options.maxBytes
    this.#store = options.store
    this.#orders = new LRUCache<string, CachedOrder>({ maxSize: options.maxBytes, sizeCalculation: (order, orderUid) => entrySize(orderUid, order) })
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

  /** Caches an order just committed; it becomes visible even if its id was recently looked up in vain. */
  set(orderUid: string, body: string): CachedOrder {
    const order = toCachedOrder(body)
    this.#absent.delete(orderUid)
    this.#orders.set(orderUid, order)
    return order
  }

  /**
   * Fills the cache from pages of orders, newest first, until the budget is full; stops reading then, so the
   * rest of the table is never fetched. Entries are inserted oldest first so the newest end up most recently
   * used, and nothing already cached (set by the writer meanwhile) is replaced. Returns how many were added.
   */
  async warm(pages: AsyncIterable<StoredOrder[]>): Promise<number> {
    const chosen: Array<[string, CachedOrder]> = []
    let budget = this.maxBytes - this.#orders.calculatedSize
    reading: for await (const page of pages) {
      for (const stored of page) {
        if (this.#orders.has(stored.orderUid)) continue
        const order = toCachedOrder(stored.body)
        const size = entrySize(stored.orderUid, order)
        if (size > budget) break reading
        budget -= size
        chosen.push([stored.orderUid, order])
      }
    }
    for (let i = chosen.length - 1; i >= 0; i--) {
      const [orderUid, order] = chosen[i]!
      if (!this.#orders.has(orderUid)) this.#orders.set(orderUid, order)
    }
    return chosen.length
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
    const loading = this.#load(orderUid, slot).finally(() => this.#inFlight.delete(orderUid))
    this.#inFlight.set(orderUid, loading)
    return loading
  }

  stats(): OrderCacheStats {
    return { entries: this.#orders.size, bytes: this.#orders.calculatedSize, absentEntries: this.#absent.size }
  }

  async #load(orderUid: string, slot: Promise<() => void>): Promise<LookupResult> {
    const release = await slot
    try {
      // The writer may have cached it while this miss waited for a slot.
      const cached = this.#orders.get(orderUid)
      if (cached !== undefined) return { kind: 'hit', order: cached }
      const body = await this.#store.findBody(orderUid)
      if (body !== undefined) {
        const order = toCachedOrder(body)
        this.#orders.set(orderUid, order)
        return { kind: 'loaded', order }
      }
      // The query may have started before the order's commit and the writer's set(): then it is cached now,
      // and must not be remembered as absent.
      const arrived = this.#orders.get(orderUid)
      if (arrived !== undefined) return { kind: 'hit', order: arrived }
      this.#absent.set(orderUid, true)
      return { kind: 'absent' }
    } catch (error) {
      return { kind: 'unavailable', error }
    } finally {
      release()
    }
  }
}
