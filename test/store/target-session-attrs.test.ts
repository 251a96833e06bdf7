import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFreezingProxy, type FreezingProxy } from '../support/tcp-proxy.js'
import { restartablePort } from '../support/ports.js'
import { startPostgresPair, type PostgresPair } from '../support/postgres-pair.js'

/**
 * What postgres.js 3.4.9 does with a host list and target_session_attrs, as patched (patches/postgres+3.4.9.patch;
 * porsager/postgres#815). Each of these fails on the unpatched driver.
 */
let pair: PostgresPair
const clients: postgres.Sql[] = []
let proxy: FreezingProxy | undefined

beforeAll(async () => {
  pair = await startPostgresPair({ synchronous: false })
}, 60_000)
afterAll(async () => {
  await pair?.stop()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((sql) => sql.end({ timeout: 0 })))
  await proxy?.close()
  proxy = undefined
})

function connect(url: string, connectTimeoutSeconds = 5): postgres.Sql {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: connectTimeoutSeconds })
  clients.push(sql)
  return sql
}

const role = async (sql: postgres.Sql) => (await sql<{ standby: boolean }[]>`select pg_is_in_recovery() as standby`)[0]?.standby

describe('postgres.js with several hosts', () => {
  it('When the standby is named first with target_session_attrs=read-write, then the connection lands on the primary', async () => {
    expect(await role(connect(pair.url('standby-first')))).toBe(false)
    expect(await role(connect(pair.url('primary-first')))).toBe(false)
  })

  it('When the first host does not answer at all, then the next one is used after the connect timeout, not an error', async () => {
    proxy = await startFreezingProxy({ port: pair.primary.port })
    proxy.freeze({ newConnections: 'freeze' })
    const started = performance.now()
    expect(await role(connect(pair.urlOf([proxy.port, pair.primary.port]), 1))).toBe(false)
    expect(performance.now() - started).toBeLessThan(2_500)
  })

  it('When no host accepts the connection, then the query fails once every host was tried, instead of waiting for ever', async () => {
    const [a, b] = [await restartablePort(), await restartablePort()]
    const sql = connect(`postgres://u:p@127.0.0.1:${a},127.0.0.1:${b}/orders?target_session_attrs=read-write`)
    const started = performance.now()
    await expect(sql`select 1`).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(performance.now() - started).toBeLessThan(1_000)
  })
})
