import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { rereadJetStream } from '../../src/ingest/jetstream-reread.js'
import { rereadThroughWriter } from '../../src/ingest/reread.js'
import type { RereadFrom } from '../../src/ingest/transport.js'
import { createOrderStore } from '../../src/store/orders.js'
import { publishJetStream } from '../support/jetstream.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, writerFor } from './support.js'

let db: TestDatabase
let nats: TestNats

beforeAll(async () => {
  ;[db, nats] = await Promise.all([startTestDatabase(), startNatsNode()])
})
afterAll(() => Promise.all([nats?.close(), db?.stop()]))
beforeEach(() => db.truncate())

/** A stream of its own for `name`, taking `orders.<name>` and (to show the filter) `other.<name>`. */
async function stream(name: string): Promise<{ stream: string; subject: string }> {
  const nc = await connect({ servers: nats.urls })
  try {
    await (await jetstreamManager(nc)).streams.add({ name: `S_${name}`, subjects: [`orders.${name}`, `other.${name}`] })
  } finally {
    await nc.close()
  }
  return { stream: `S_${name}`, subject: `orders.${name}` }
}

async function reread(target: { stream: string; subject: string }, from: RereadFrom) {
  const { writer } = writerFor(db.sql, { maxWaitMs: 5, channel: target.stream })
  try {
    const options = { servers: nats.urls, ...target, from, maxInFlight: 4, name: 'reread-test' }
    return await rereadThroughWriter(writer, (onMessage) => rereadJetStream(options, onMessage))
  } finally {
    await writer.stop()
  }
}

describe('re-reading a JetStream stream', () => {
  it('When orders acked to the broker are missing from the database, then a re-read restores them and counts those that were there', async () => {
    const target = await stream('lost')
    const uids = Array.from({ length: 10 }, (_, i) => `js-lost-${i + 1}`)
    const before = new Date(Date.now() - 1_000)
    await publishJetStream(nats.urls, target.subject, uids.map((uid) => orderJson(uid)))
    // Another subject of the stream, last: not the service's, never read.
    await publishJetStream(nats.urls, `other.lost`, ['not for the service'])
    await createOrderStore(db.sql).insertMany(uids.slice(0, 6).map((uid, i) => ({ orderUid: uid, json: orderJson(uid), brokerSeq: i + 1 })))

    expect(await reread(target, { since: before })).toEqual({ read: 10, stored: 4, alreadyStored: 6, deadLettered: 0, alreadyDeadLettered: 0 })
    expect(await createOrderStore(db.sql).count()).toBe(10)
    expect(await reread(target, { sequence: 8 })).toEqual({ read: 3, stored: 0, alreadyStored: 3, deadLettered: 0, alreadyDeadLettered: 0 })
    expect(await reread(target, { sequence: 12 })).toMatchObject({ read: 0 })
    expect(await reread(target, { since: new Date(Date.now() + 60_000) })).toMatchObject({ read: 0 })
  })
})
