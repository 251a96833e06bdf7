import { startFreezingProxy } from '../support/tcp-proxy.js'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createBoundedPool, DatabaseTimeoutError } from '../../src/store/bounded-pool.js'
import { jsonbText } from '../../src/ingest/jsonb-text.js'
import { LISTEN_BOUNDS } from '../../src/store/order-commits.js'
import { createOrderStore } from '../../src/store/orders.js'
import { orderJson } from '../support/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { listeningCache } from './listening-cache.js'

const db = testDatabaseForFile()
const cleanups: Array<() => Promise<void>> = []

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

let instances = 0

/**
 * One instance's read side, wired as in src/service.ts: a bounded pool, a cache on it whose clock never moves (an id
 * remembered as unknown stays remembered until something makes it forget), and the commit listener on `url`.
 */
function instance(url: string = db.url) {
  const name = `commits-test ${++instances}`
  const pool = createBoundedPool({ url: db.url, name, max: 2, boundMs: 500, idleInTransactionMs: 60_000 })
  const { cache, listener, listens } = listeningCache(url, name, pool.bound(createOrderStore))
  cleanups.push(async () => {
    await listener.close()
    await pool.end({ timeout: 1 })
  })
  return { name, pool, cache, listens }
}

const insert = (...uids: string[]) =>
  createOrderStore(db.sql).insertMany(uids.map((uid, i) => ({ orderUid: uid, json: jsonbText(JSON.parse(orderJson(uid))), brokerSeq: i + 1 })))

describe('commits heard by every instance', () => {
  it('When an order commits through instance B, then instance A, which had just answered "unknown", serves it within a second', async () => {
    const a = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    expect(await a.cache.lookup('late-1')).toEqual({ kind: 'absent' })
    expect(a.cache.stats().absentEntries).toBe(1)

    // B writes a batch, as its batch writer would: one statement, several ids, one of them A's.
    await insert('other-1', 'late-1', 'other-2')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
    expect((await a.cache.lookup('late-1')).kind).toBe('loaded')
  })

  it('When a batch larger than one notification commits, then every id of it is heard', async () => {
    const a = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    const uids = Array.from({ length: 450 }, (_, i) => `bulk-${String(i).padStart(3, '0')}-${'x'.repeat(50)}`)
    for (const uid of uids) expect(await a.cache.lookup(uid)).toEqual({ kind: 'absent' })
    await insert(...uids)
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })

  it('When the listening connection is cut, then it listens again by itself and forgets what it may have missed', async () => {
    const a = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    expect(await a.cache.lookup('missed-1')).toEqual({ kind: 'absent' })
    await db.sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`${a.name} listener`}`
    await vi.waitFor(() => expect(a.listens()).toBe(2), { timeout: 1_000 })
    expect(a.cache.stats().absentEntries).toBe(0)

    // And it hears commits again.
    expect(await a.cache.lookup('after-1')).toEqual({ kind: 'absent' })
    await insert('after-1')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })

  it('When a query of the instance passes its bound (its pool replaced), then another instance\'s commit is still heard within a second', async () => {
    const a = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    await expect(a.pool.run((sql) => sql`select pg_sleep(2)`)).rejects.toBeInstanceOf(DatabaseTimeoutError)
    expect(a.pool.abandoned).toBe(1)
    expect(await a.cache.lookup('late-2')).toEqual({ kind: 'absent' })
    await insert('late-2')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
    expect((await a.cache.lookup('late-2')).kind).toBe('loaded')
  })

  it('When the listening connection stops answering without closing, then it listens again within the heartbeat\'s bound and forgets what it may have missed', async () => {
    const proxy = await startFreezingProxy({ port: Number(new URL(db.url).port) })
    cleanups.push(() => proxy.close())
    const url = new URL(db.url)
    url.port = String(proxy.port)
    const a = instance(url.href)
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    expect(await a.cache.lookup('frozen-1')).toEqual({ kind: 'absent' })
    const frozenAt = performance.now()
    // Only the connections open now: the next one passes, as after a fail-over behind a virtual IP.
    proxy.freeze({ newConnections: 'pass' })
    await vi.waitFor(() => expect(a.listens()).toBe(2), { timeout: LISTEN_BOUNDS.HEARTBEAT_MS + LISTEN_BOUNDS.ANSWER_MS + 1_000, interval: 20 })
    expect(performance.now() - frozenAt).toBeLessThan(LISTEN_BOUNDS.HEARTBEAT_MS + LISTEN_BOUNDS.ANSWER_MS + 1_000)
    expect(a.cache.stats().absentEntries).toBe(0)
    expect(await a.cache.lookup('frozen-2')).toEqual({ kind: 'absent' })
    await insert('frozen-2')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })

  it('When PostgreSQL restarts, then the listener listens again within a second of its start', async () => {
    const a = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    await db.stopServer()
    await db.startServer()
    await vi.waitFor(() => expect(a.listens()).toBe(2), { timeout: 1_000, interval: 20 })
    expect(await a.cache.lookup('restarted-1')).toEqual({ kind: 'absent' })
    await insert('restarted-1')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })
})
