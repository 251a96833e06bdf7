import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { promisify } from 'node:util'
import { execFile } from 'node:child_process'
import { rereadThroughWriter } from '../../src/ingest/reread.js'
import { parseFrom } from '../../src/reread.js'
import { rereadStanChannel } from '../../src/ingest/stan-reread.js'
import type { RereadFrom } from '../../src/ingest/transport.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, publishStan, writerFor } from './support.js'

const run = promisify(execFile)
let db: TestDatabase
let broker: StanServer

beforeAll(async () => {
  ;[db, broker] = await Promise.all([startTestDatabase(), startStanServer({ port: 0 })])
})
afterAll(() => Promise.all([broker?.close(), db?.stop()]))
beforeEach(() => db.truncate())

const publish = (channel: string, payloads: string[]) => publishStan(broker, channel, payloads)

async function reread(channel: string, from: RereadFrom) {
  const { writer } = writerFor(db.sql, { maxWaitMs: 5, channel })
  try {
    const options = { server: broker.url, clusterId: broker.clusterId, clientId: `reread-${channel}`, channel, from, maxInFlight: 64, ackWaitMs: 5_000 }
    return await rereadThroughWriter(writer, (onMessage) => rereadStanChannel(options, onMessage))
  } finally {
    await writer.stop()
  }
}

describe('re-reading a NATS Streaming channel', () => {
  it('When orders acked to the broker are missing from the database (a fail-over with asynchronous replication), then a re-read restores them and counts those that were there', async () => {
    const uids = Array.from({ length: 10 }, (_, i) => `lost-${i + 1}`)
    const before = new Date(Date.now() - 1_000)
    await publish('lost', [...uids.map((uid) => orderJson(uid)), '{"not": "an order"}'])
    // The database after the fail-over: the first six survived, the last four (and the dead letter) were lost.
    await createOrderStore(db.sql).insertMany(uids.slice(0, 6).map((uid, i) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: i + 1 })))

    expect(await reread('lost', { since: before })).toEqual({ read: 11, stored: 4, alreadyStored: 6, deadLettered: 1, alreadyDeadLettered: 0 })
    expect(await createOrderStore(db.sql).count()).toBe(10)
    // Again, from a sequence: everything is there now.
    expect(await reread('lost', { sequence: 5 })).toEqual({ read: 7, stored: 0, alreadyStored: 6, deadLettered: 0, alreadyDeadLettered: 1 })
  })

  it('When the moment is after the last message, or the channel is empty, then nothing is read', async () => {
    await publish('quiet', [orderJson('quiet-1')])
    expect(await reread('quiet', { since: new Date(Date.now() + 60_000) })).toEqual({ read: 0, stored: 0, alreadyStored: 0, deadLettered: 0, alreadyDeadLettered: 0 })
    expect(await reread('quiet', { sequence: 2 })).toMatchObject({ read: 0 })
    expect(await reread('never-published', { sequence: 1 })).toMatchObject({ read: 0 })
  })
})

describe('the re-read command (src/reread.ts)', () => {
  it('Should read --since as a span before now or an ISO date, and --sequence as a whole number; anything else is refused', () => {
    const now = Date.parse('2026-12-07T06:00:00Z')
    expect(parseFrom(['--since', '10m'], now)).toEqual({ since: new Date('2026-12-07T05:50:00Z') })
    expect(parseFrom(['--since', '2026-12-07T05:00:00Z'], now)).toEqual({ since: new Date('2026-12-07T05:00:00Z') })
    expect(parseFrom(['--sequence', '1234'], now)).toEqual({ sequence: 1234 })
    for (const args of [[], ['--since', '10m', '--sequence', '1'], ['--since', 'yesterday'], ['--sequence', '0'], ['--sequence', '-3']]) {
      expect(() => parseFrom(args, now)).toThrow()
    }
  })

  it('When run beside the service\'s configuration, then it prints what it restored and what was already there as one JSON line', async () => {
    await publish('cli', ['cli-1', 'cli-2', 'cli-3'].map((uid) => orderJson(uid)))
    await createOrderStore(db.sql).insertMany([{ orderUid: 'cli-2', json: orderJson('cli-2'), brokerSeq: 2 }])
    const env = { ...process.env, DATABASE_URL: db.url, STAN_URL: broker.url, STAN_CLUSTER_ID: broker.clusterId, STAN_CHANNEL: 'cli', LOG_LEVEL: 'silent' }
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/reread.ts', '--sequence', '1'], { env })
    expect(JSON.parse(stdout)).toEqual({ channel: 'cli', from: 1, read: 3, stored: 2, alreadyStored: 1, deadLettered: 0, alreadyDeadLettered: 0 })
  }, 30_000)
})
