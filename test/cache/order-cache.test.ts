import { beforeAll, describe, expect, it } from 'vitest'
import { entrySize, OrderCache, toCachedOrder, type OrderCacheOptions } from '../../src/cache/order-cache.js'
import { connectDatabase } from '../../src/store/db.js'
import { createOrderStore, type OrderPages, type OrderStore } from '../../src/store/orders.js'
import { orderJson } from '../support/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'


const db = testDatabaseForFile()
let orders: OrderStore

beforeAll(() => {
  orders = createOrderStore(db.sql)
})

/** The real store, with its primary-key reads recorded. */
function countingStore(store: OrderStore) {
  const reads: string[] = []
  return {
    reads,
    findBody: async (orderUid: string) => {
      reads.push(orderUid)
      return store.findBody(orderUid)
    },
  }
}

/** Stores `count` orders o0..o{count-1} in arrival order (o{count-1} is the newest). */
async function storeOrders(count: number, prefix = 'o'): Promise<string[]> {
  const uids = Array.from({ length: count }, (_, i) => `${prefix}${i}`)
  await orders.insertMany(uids.map((uid, i) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: i + 1 })))
  return uids
}

function cacheOver(store: Pick<OrderStore, 'findBody'>, options: Partial<OrderCacheOptions> = {}) {
  return new OrderCache({ maxBytes: 1024 * 1024, store, ...options })
}

/** The size an order takes in the cache, from the body given to set(). */
const sizeOf = (uid: string) => entrySize(uid, toCachedOrder(orderJson(uid)))
/** The size a stored order takes in the cache: its jsonb text form, which is not the text inserted. */
const storedSizeOf = async (uid: string) => entrySize(uid, toCachedOrder((await orders.findBody(uid))!))

describe('order cache: bound and warm-up', () => {
  it('When more orders are set than the byte budget holds, then the bytes stay within it and the least recently used go', () => {
    const maxBytes = 10 * sizeOf('s00')
    const cache = cacheOver(countingStore(orders), { maxBytes })
    for (let i = 10; i < 40; i++) cache.set(`s${i}`, orderJson(`s${i}`))

    const { entries, bytes } = cache.stats()
    expect(bytes).toBeLessThanOrEqual(maxBytes)
    expect(entries).toBe(10)
    expect(cache.get('s39')).toBeDefined()
    expect(cache.get('s10')).toBeUndefined()
  })

  it('Should hold each order as its body bytes and a quoted ETag of them', () => {
    const cache = cacheOver(countingStore(orders))
    const body = orderJson('e1')
    const order = cache.set('e1', body)
    expect(cache.get('e1')).toBe(order)
    expect(order.body.toString('utf8')).toBe(body)
    expect(order.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
    expect(toCachedOrder(body).etag).toBe(order.etag)
  })

  it('When warmed from a table larger than the budget, then the newest fill it and reading stops once it is full', async () => {
    const uids = await storeOrders(60)
    const fits = 12
    const cache = cacheOver(countingStore(orders), { maxBytes: fits * (await storedSizeOf('o10')) + 10 })
    let pagesRead = 0
    const pages: OrderPages = async function* (keep) {
      for await (const page of orders.newestFirst(5)(keep)) {
        pagesRead++
        yield page
      }
    }

    const added = await cache.warm(pages)

    expect(added).toBe(fits)
    expect(cache.stats().bytes).toBeLessThanOrEqual(cache.maxBytes)
    expect(pagesRead).toBeLessThanOrEqual(3)
    const newest = uids.slice(-fits)
    expect(newest.every((uid) => cache.get(uid) !== undefined)).toBe(true)
    expect(cache.get(uids[uids.length - fits - 1]!)).toBeUndefined()
  })

  it('When warmed, then the newest are the most recently used: a new order evicts the oldest warmed one', async () => {
    const uids = await storeOrders(10)
    const cache = cacheOver(countingStore(orders), { maxBytes: 5 * (await storedSizeOf('o1')) + 10 })
    await cache.warm(orders.newestFirst(100))
    const warmed = uids.slice(-5) // o5..o9

    cache.set('n1', orderJson('n1'))

    expect(cache.stats().entries).toBe(5)
    expect(cache.get('n1')).toBeDefined()
    expect(cache.get(warmed[0]!)).toBeUndefined()
    for (const uid of warmed.slice(1)) expect(cache.get(uid)).toBeDefined()
  })

  it('When warmed orders are evicted around a few that are still read, then the budget holds, their slabs are let go, and the survivors still serve the same bytes', async () => {
    const uids = await storeOrders(100)
    // A 1 MiB budget packs warmed bodies into 16 KiB slabs, about ten orders each.
    const cache = cacheOver(countingStore(orders), { maxBytes: 1024 * 1024 })
    expect(await cache.warm(orders.newestFirst(30))).toBe(100)
    expect(cache.stats().slackBytes).toBeGreaterThan(0) // the unfilled end of the last slab
    const survivors = ['o0', 'o50']
    const expected = await Promise.all(survivors.map(async (uid) => toCachedOrder((await orders.findBody(uid))!)))
    for (const uid of survivors) cache.get(uid)

    // New orders evict the warmed ones that were not read, slab by slab.
    const unread = uids.filter((uid) => !survivors.includes(uid))
    let added = 0
    while (unread.some((uid) => cache.has(uid)) && added < 2000) {
      cache.set(`new${added}`, orderJson(`new${added++}`))
      expect(cache.stats().bytes).toBeLessThanOrEqual(cache.maxBytes)
    }

    expect(added).toBeLessThan(2000)
    // The warmed slabs are gone (their ~90 KB of dead bytes with them): what is left of slack is the unfilled end
    // of each 16 KiB slab the writer's orders were packed into, less than one body each.
    expect(cache.stats().slackBytes).toBeLessThan(0.06 * cache.maxBytes)
    expect(cache.get(uids[1]!)).toBeUndefined() // the least recently used warmed order
    survivors.forEach((uid, i) => {
      const order = cache.get(uid)
      expect(order?.body.equals(expected[i]!.body)).toBe(true)
      expect(order?.etag).toBe(expected[i]!.etag)
      // Moved out of its slab: the body's memory is its own, so the slab can be freed.
      expect(order?.body.buffer.byteLength).toBe(order?.body.byteLength)
    })
  })

  it('When an order was set before warm-up reached it, then warm-up keeps the cached one', async () => {
    await storeOrders(3)
    const cache = cacheOver(countingStore(orders))
    const early = cache.set('o1', orderJson('o1'))
    expect(await cache.warm(orders.newestFirst())).toBe(2)
    expect(cache.get('o1')).toBe(early)
  })
})

describe('order cache: read-through', () => {
  it('When an uncached order is looked up, then one primary-key read fills the cache and the next lookup is a hit', async () => {
    await storeOrders(1)
    const store = countingStore(orders)
    const cache = cacheOver(store)

    const first = await cache.lookup('o0')
    const second = await cache.lookup('o0')

    expect(first.kind).toBe('loaded')
    expect(second.kind).toBe('hit')
    expect(store.reads).toEqual(['o0'])
    if (second.kind === 'hit') expect(second.order.body.toString()).toBe(await orders.findBody('o0'))
  })

  it('When many lookups of one uncached id arrive together, then they share one database read', async () => {
    await storeOrders(1)
    const store = countingStore(orders)
    const cache = cacheOver(store)

    const results = await Promise.all(Array.from({ length: 20 }, () => cache.lookup('o0')))

    expect(store.reads).toEqual(['o0'])
    expect(results.every((result) => result.kind === 'loaded')).toBe(true)
  })

  it('When an unknown id is looked up again within the absence TTL, then the database is not asked again; after it, it is', async () => {
    let now = 1_000
    const store = countingStore(orders)
    const cache = cacheOver(store, { absentTtlMs: 2_000, now: () => now })

    expect((await cache.lookup('ghost')).kind).toBe('absent')
    expect((await cache.lookup('ghost')).kind).toBe('absent')
    expect(store.reads).toEqual(['ghost'])

    now += 2_001
    expect((await cache.lookup('ghost')).kind).toBe('absent')
    expect(store.reads).toEqual(['ghost', 'ghost'])
  })

  it('When an order arrives after its id was looked up in vain, then set() makes it visible at once', async () => {
    const store = countingStore(orders)
    const cache = cacheOver(store)
    expect((await cache.lookup('late')).kind).toBe('absent')

    await orders.insertMany([{ orderUid: 'late', json: orderJson('late'), brokerSeq: 1 }])
    cache.set('late', (await orders.findBody('late'))!)

    expect((await cache.lookup('late')).kind).toBe('hit')
  })

  it('When an order is committed and set while a miss for it is in flight, then it is not remembered as absent', async () => {
    const cache: OrderCache = cacheOver({
      // The real read runs first and finds nothing; then the writer commits and caches the order.
      findBody: async (orderUid) => {
        const body = await orders.findBody(orderUid)
        await orders.insertMany([{ orderUid, json: orderJson(orderUid), brokerSeq: 1 }])
        cache.set(orderUid, (await orders.findBody(orderUid))!)
        return body
      },
    })

    const result = await cache.lookup('racing')

    expect(result.kind).toBe('hit')
    expect(cache.stats().absentEntries).toBe(0)
  })

  it('When another instance commits the order while a miss for it is in flight, then the miss is not remembered as absent', async () => {
    const cache: OrderCache = cacheOver({
      // The read finds nothing; then another instance commits it, and its notification arrives before the answer.
      findBody: async (orderUid) => {
        const body = await orders.findBody(orderUid)
        await orders.insertMany([{ orderUid, json: orderJson(orderUid), brokerSeq: 1 }])
        cache.forgetAbsent([orderUid])
        return body
      },
    })

    expect((await cache.lookup('elsewhere')).kind).toBe('absent')
    expect(cache.stats().absentEntries).toBe(0)
    expect((await cache.lookup('elsewhere')).kind).toBe('loaded')
  })

  it('When many unknown ids are looked up, then the remembered absences stay within their bound', async () => {
    const cache = cacheOver(countingStore(orders), { maxAbsent: 10 })
    for (let i = 0; i < 40; i++) await cache.lookup(`nobody${i}`)
    expect(cache.stats().absentEntries).toBe(10)
  })

  it('When more misses arrive than may run and wait, then the extra ones are refused without a database read', async () => {
    const store = countingStore(orders)
    const cache = cacheOver(store, { maxConcurrentMisses: 1, maxQueuedMisses: 1 })

    const pending = [cache.lookup('u1'), cache.lookup('u2'), cache.lookup('u3')]
    const results = await Promise.all(pending)

    expect(results.map((result) => result.kind)).toEqual(['absent', 'absent', 'busy'])
    expect(store.reads).toEqual(['u1', 'u2'])
    // Slots are given back: later misses run again.
    expect((await cache.lookup('u3')).kind).toBe('absent')
  })

  it('When the database read fails, then the lookup says unavailable and remembers nothing', async () => {
    const closed = connectDatabase(db.url, { max: 1 })
    await closed.end()
    const cache = cacheOver(createOrderStore(closed))

    const result = await cache.lookup('o0')

    expect(result.kind).toBe('unavailable')
    expect(cache.stats()).toMatchObject({ entries: 0, absentEntries: 0 })
  })
})
