import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../support/tcp-proxy.js'
import { boundedPages, createBoundedPool, DatabaseTimeoutError, type BoundedPool } from '../../src/store/bounded-pool.js'
import { migrate, MIGRATION_LOCK } from '../../src/store/migrate.js'
import { createOrderStore } from '../../src/store/orders.js'
import { orderJson } from '../support/orders.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

const BOUND_MS = 1_000
let db: TestDatabase
let proxy: FreezingProxy
let pool: BoundedPool

beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(async () => {
  await db?.stop()
})
afterEach(async () => {
  await pool?.end({ timeout: 0 })
  await proxy?.close()
  await db.truncate()
})

/** A bounded pool that reaches PostgreSQL through a fresh freezing proxy. */
async function poolThroughProxy(options: { lockTimeoutMs?: number } = {}): Promise<BoundedPool> {
  proxy = await startFreezingProxy({ port: Number(new URL(db.url).port) })
  const url = new URL(db.url)
  url.port = String(proxy.port)
  // The server-side timeout is long here, so what ends the abandoned backend is the pool itself.
  pool = createBoundedPool({ url: url.href, name: 'bounded-pool-test', max: 2, boundMs: BOUND_MS, idleInTransactionMs: 60_000, ...options })
  return pool
}

const insert = (uid: string) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: null })

describe('bounded pool', () => {
  it('When a transaction\'s connection freezes after it took a row lock, then it is abandoned within the bound and a retry of the same row commits on a fresh connection', async () => {
    const pool = await poolThroughProxy()
    const orders = pool.bound(createOrderStore)
    const started = performance.now()
    const frozen = pool.begin(async (tx) => {
      await orders.insertMany([insert('frozen-1')], tx)
      proxy.freeze()
      await tx`select 1`
    })
    await expect(frozen).rejects.toBeInstanceOf(DatabaseTimeoutError)
    const waited = performance.now() - started
    expect(waited).toBeGreaterThanOrEqual(BOUND_MS - 5)
    expect(waited).toBeLessThan(BOUND_MS + 1_000)
    expect(pool.abandoned).toBe(1)

    // The abandoned backend still holds its uncommitted insert of frozen-1: the retry would wait on it, past the bound, were it not ended.
    const [result] = await pool.begin((tx) => orders.insertMany([insert('frozen-1')], tx))
    expect(result?.status).toBe('stored')
    expect(pool.abandoned).toBe(1)
    expect(await db.sql`select 1 from pg_stat_activity where application_name like 'bounded-pool-test%' and state = 'idle in transaction'`).toHaveLength(0)
  })

  it('When a store query hangs, then it fails within the bound and the next query is answered by a fresh pool', async () => {
    const pool = await poolThroughProxy()
    const orders = pool.bound(createOrderStore)
    await pool.begin((tx) => orders.insertMany([insert('stored-1')], tx))
    proxy.freeze()
    await expect(orders.findBody('stored-1')).rejects.toBeInstanceOf(DatabaseTimeoutError)
    expect(pool.abandoned).toBe(1)
    expect(JSON.parse((await orders.findBody('stored-1')) ?? 'null')).toEqual(JSON.parse(orderJson('stored-1')))
  })

  it('When a lock is held longer than lockTimeoutMs, then the waiting statement fails with 55P03 instead of waiting on', async () => {
    const pool = await poolThroughProxy({ lockTimeoutMs: 200 })
    const orders = createOrderStore(db.sql)
    await db.sql.begin(async (holder) => {
      await orders.insertMany([insert('locked-1')], holder)
      await expect(pool.begin((tx) => orders.insertMany([insert('locked-1')], tx))).rejects.toMatchObject({ code: '55P03' })
    })
    expect(pool.abandoned).toBe(0)
  })
  it('When a migration\'s connection freezes while it holds the migration lock, then the next migration on a fresh connection does not wait for it', async () => {
    const pool = await poolThroughProxy()
    const frozen = pool.run((sql) =>
      sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
        proxy.freeze()
        await tx`select 1`
      }),
    )
    await expect(frozen).rejects.toBeInstanceOf(DatabaseTimeoutError)
    // Without the abandoned backend ended, this waits for the lock past its bound (the server's own timeout is 60 s here).
    await expect(pool.run((sql) => migrate(sql))).resolves.toEqual([])
  })

  it('When a page of the warm-up does not come, then the iteration fails within the bound', async () => {
    const pool = await poolThroughProxy()
    await pool.begin((tx) => pool.bound(createOrderStore).insertMany([insert('page-1'), insert('page-2')], tx))
    const pages = boundedPages(pool, (sql) => createOrderStore(sql).newestFirst(1))(() => 'kept')
    expect((await pages.next()).value).toHaveLength(1)
    proxy.freeze()
    await expect(pages.next()).rejects.toBeInstanceOf(DatabaseTimeoutError)
  })
  it('When work on a pool is cut off because other work on it passed the bound, then it fails with the same timeout error', async () => {
    const pool = await poolThroughProxy()
    const orders = pool.bound(createOrderStore)
    await pool.run((sql) => sql`select 1`)
    proxy.freeze({ newConnections: 'freeze' })
    const first = orders.count()
    // On a connection of its own, frozen too, with a bound of its own far off: cut off when the first passes its bound.
    const second = pool.run((sql) => createOrderStore(sql).findBody('any'), { boundMs: 10_000 })
    await proxy.accepted(2)
    await expect(first).rejects.toBeInstanceOf(DatabaseTimeoutError)
    await expect(second).rejects.toBeInstanceOf(DatabaseTimeoutError)
    expect(pool.abandoned).toBe(1)
  })
})
