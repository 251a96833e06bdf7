import pino from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { OrderCache } from '../../src/cache/order-cache.js'
import { connectDatabase, type Sql } from '../../src/store/db.js'
import { jsonbText } from '../../src/ingest/jsonb-text.js'
import { listenForCommits, type CommitListener } from '../../src/store/order-commits.js'
import { createOrderStore } from '../../src/store/orders.js'
import { orderJson } from '../support/orders.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

let db: TestDatabase
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await db?.stop()
})
beforeEach(() => db.truncate())

/**
 * One instance's read side: a pool of its own, a cache whose clock never moves (an id remembered as unknown stays
 * remembered until something makes it forget), and the commit listener wired as in src/service.ts.
 */
function instance() {
  const sql: Sql = connectDatabase(db.url, { max: 2 })
  const store = createOrderStore(sql)
  const cache = new OrderCache({ maxBytes: 1024 * 1024, store, now: () => 0 })
  let listens = 0
  const listener: CommitListener = listenForCommits(
    sql,
    {
      committed: (orderUids) => cache.forgetAbsent(orderUids),
      listening: () => {
        listens++
        cache.forgetAllAbsent()
      },
    },
    pino({ level: 'silent' }),
  )
  cleanups.push(async () => {
    await listener.close()
    await sql.end({ timeout: 1 })
  })
  return { sql, store, cache, listens: () => listens }
}

const insert = (sql: Sql, ...uids: string[]) =>
  createOrderStore(sql).insertMany(uids.map((uid, i) => ({ orderUid: uid, json: jsonbText(JSON.parse(orderJson(uid))), brokerSeq: i + 1 })))

describe('commits heard by every instance', () => {
  it('When an order commits through instance B, then instance A, which had just answered "unknown", serves it within a second', async () => {
    const a = instance()
    const b = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    expect(await a.cache.lookup('late-1')).toEqual({ kind: 'absent' })
    expect(a.cache.stats().absentEntries).toBe(1)

    // B writes a batch, as its batch writer would: one statement, several ids, one of them A's.
    await insert(b.sql, 'other-1', 'late-1', 'other-2')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
    expect((await a.cache.lookup('late-1')).kind).toBe('loaded')
  })

  it('When a batch larger than one notification commits, then every id of it is heard', async () => {
    const a = instance()
    const b = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    const uids = Array.from({ length: 450 }, (_, i) => `bulk-${String(i).padStart(3, '0')}-${'x'.repeat(50)}`)
    for (const uid of uids) expect(await a.cache.lookup(uid)).toEqual({ kind: 'absent' })
    await insert(b.sql, ...uids)
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })

  it('When the listening connection is cut, then it listens again by itself and forgets what it may have missed', async () => {
    const a = instance()
    const b = instance()
    await vi.waitFor(() => expect(a.listens()).toBe(1))
    expect(await a.cache.lookup('missed-1')).toEqual({ kind: 'absent' })
    await b.sql`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen%' and pid <> pg_backend_pid()`
    await vi.waitFor(() => expect(a.listens()).toBe(2), { timeout: 15_000 })
    expect(a.cache.stats().absentEntries).toBe(0)

    // And it hears commits again.
    expect(await a.cache.lookup('after-1')).toEqual({ kind: 'absent' })
    await insert(b.sql, 'after-1')
    await vi.waitFor(() => expect(a.cache.stats().absentEntries).toBe(0), { timeout: 1_000 })
  })
})
