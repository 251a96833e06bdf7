import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../support/tcp-proxy.js'
import { createBoundedPool, DatabaseTimeoutError, type BoundedPool, type BoundedPoolOptions } from '../../src/store/bounded-pool.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { migrate } from '../../src/store/migrate.js'
import { createOrderStore } from '../../src/store/orders.js'
import { orderJson } from '../support/orders.js'
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

let db: TestDatabase
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(async () => {
  await db?.stop()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await db.truncate()
})

async function bouncer(upstream = db.url): Promise<PgBouncer> {
  const started = await startPgBouncer(upstream)
  cleanups.push(() => started.stop())
  return started
}

function pool(url: string, options: Partial<BoundedPoolOptions> = {}): BoundedPool {
  const made = createBoundedPool({ url, name: 'pgbouncer-test', max: 4, boundMs: 1_000, idleInTransactionMs: 60_000, pooler: 'transaction', ...options })
  cleanups.push(() => made.end({ timeout: 0 }))
  return made
}

const order = (uid: string) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: null })

describe('through PgBouncer in transaction pooling mode', () => {
  it('When the pool declares the transaction pooler, then migrations, batch inserts of every size, reads and retention work on shared server connections', async () => {
    const through = pool((await bouncer()).url)
    await expect(through.run((sql) => migrate(sql))).resolves.toEqual([])
    const orders = through.bound(createOrderStore)
    // Batches of several sizes, over and over on four connections: a named prepared statement would be missing on
    // the server connection the next transaction gets (26000), or exist twice (42P05).
    let stored = 0
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        [1, 3, 7, 12].map(async (size) => {
          const uids = Array.from({ length: size }, (_, i) => `pgb-${round}-${size}-${i}`)
          const results = await through.begin((tx) => orders.insertMany(uids.map(order), tx))
          stored += results.filter((result) => result.status === 'stored').length
        }),
      )
    }
    expect(stored).toBe(5 * 23)
    expect(await orders.count()).toBe(5 * 23)
    expect(JSON.parse((await orders.findBody('pgb-4-12-11')) ?? 'null')).toEqual(JSON.parse(orderJson('pgb-4-12-11')))
    const pruned = await through.run((sql) => createDeadLetterStore(sql, { maxPayloadBytes: 1024 }).prune({ maxRows: 100, maxAgeDays: 1 }))
    expect(pruned).toBe(0)
  })

  it('When the pool does not declare the pooler, then PgBouncer refuses its session settings at connect', async () => {
    const direct = pool((await bouncer()).url, { pooler: 'none' })
    await expect(direct.run((sql) => sql`select 1`)).rejects.toThrow(/unsupported startup parameter/)
  })

  it('When the server connection behind the pooler freezes inside a transaction holding a row lock, then the work is abandoned at its bound and the retry of the same row commits once the server ends the frozen transaction', async () => {
    const proxy: FreezingProxy = await startFreezingProxy({ port: db.server.port })
    cleanups.push(() => proxy.close())
    const upstream = new URL(db.url)
    upstream.port = String(proxy.port)
    const idleInTransactionMs = 1_500
    const through = pool((await bouncer(upstream.href)).url, { idleInTransactionMs, lockTimeoutMs: 5_000 })
    const orders = through.bound(createOrderStore)
    const hung = through.begin(async (tx) => {
      await orders.insertMany([order('hung-1')], tx)
      proxy.freeze({ newConnections: 'pass' })
      await tx`select 1`
    })
    await expect(hung).rejects.toBeInstanceOf(DatabaseTimeoutError)
    const retried = performance.now()
    // The frozen backend holds hung-1's row lock until idle_in_transaction_session_timeout (set in the transaction,
    // SET LOCAL) ends it; the retry waits for that lock within its own lock_timeout, then stores the row.
    const retry = await through.begin((tx) => orders.insertMany([order('hung-1')], tx)).catch((error: unknown) => error)
    const result = retry instanceof Error ? await through.begin((tx) => orders.insertMany([order('hung-1')], tx)) : retry
    expect((result as Array<{ status: string }>)[0]?.status).toBe('stored')
    expect(performance.now() - retried).toBeLessThan(idleInTransactionMs + 2_000)
  })
})
