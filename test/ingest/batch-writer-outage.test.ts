import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js'
import { connectDatabase, type Sql } from '../../src/store/db.js'
import { migrate } from '../../src/store/migrate.js'
import { createOrderStore } from '../../src/store/orders.js'
import { acks, nextEvent } from '../support/events.js'
import { restartablePort } from '../support/ports.js'
import { orderJson, outcomes, writerFor } from './support.js'

// This file stops and starts its own PostgreSQL, so it does not use the shared test database helper.
let dir: string
let port: number
let server: RunningPostgres
let sql: Sql

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'order-service-outage-'))
  port = await restartablePort()
  server = await startEmbeddedPostgres({ dir, port })
  sql = connectDatabase(server.url, { max: 2 })
  await migrate(sql)
})
afterAll(async () => {
  await sql?.end({ timeout: 5 })
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

it('When the database stops mid-stream, then nothing is acked meanwhile and everything is stored once after it is back', async () => {
  const { writer, deliver, acked, metrics } = writerFor(sql, { maxWaitMs: 0 })
  const firstAck = acks(writer.events, 1)
  deliver(1, orderJson('o1'))
  await firstAck
  expect(acked).toEqual([1])

  await server.stop()
  let failures = 0
  const failedThrice = nextEvent(writer.events, 'write-failed', () => ++failures >= 3)
  for (let seq = 2; seq <= 6; seq++) deliver(seq, orderJson(`o${seq}`))
  deliver(7, 'garbage')
  // The broker redelivers while the database is away: kept once, acked for each delivery.
  deliver(3, orderJson('o3'))
  await failedThrice
  expect(writer.isHealthy()).toBe(false)
  expect(writer.pendingCount()).toBe(6)
  expect(acked).toEqual([1])

  const allAcked = acks(writer.events, 6) // sequences 2 to 7; the second delivery of 3 is acked with the first
  server = await startEmbeddedPostgres({ dir, port })
  await allAcked
  expect(writer.isHealthy()).toBe(true)
  expect(acked.sort()).toEqual([1, 2, 3, 3, 4, 5, 6, 7])
  expect((await metrics.batchRetries.get()).values[0]?.value).toBeGreaterThanOrEqual(3)

  // Everything delivered again (as after a lost ack): nothing is written twice.
  for (let seq = 1; seq <= 6; seq++) deliver(seq, orderJson(`o${seq}`))
  deliver(7, 'garbage')
  await writer.stop()
  expect(await createOrderStore(sql).count()).toBe(6)
  expect((await sql`select count(*)::int as n from dead_letters`)[0]?.n).toBe(1)
  // One row per message, however often it came: the garbage's second delivery found its dead letter stored.
  expect(await outcomes(metrics)).toEqual({ stored: 6, duplicate: 6, 'dead_lettered/not_json': 1, 'already_dead_lettered/not_json': 1 })
})

it('When the writer is stopped while the database is down, then it goes running, stopping, abandoned and acks nothing', async () => {
  const { writer, deliver, acked } = writerFor(sql)
  const states: string[] = [writer.state()]
  writer.events.on('state', (state) => states.push(state))
  await server.stop()
  try {
    deliver(1, orderJson('a1'))
    deliver(2, 'garbage')
    await writer.stop()
  } finally {
    server = await startEmbeddedPostgres({ dir, port })
  }
  expect(states).toEqual(['running', 'stopping', 'abandoned'])
  expect(acked).toEqual([])
  // Abandoned: it takes nothing more.
  deliver(3, orderJson('a3'))
  expect(writer.pendingCount()).toBe(2)
})
