import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { transactionOn } from '../../src/store/db.js'
import { checkInThisThread, createGate } from '../../src/ingest/gate.js'
import { createReplay } from '../../src/ingest/replay.js'
import type { RejectReason } from '../../src/ingest/verdict.js'
import { createDeadLetterStore, type DeadLetterStore } from '../../src/store/dead-letters.js'
import { createOrderStore, type OrderStore } from '../../src/store/orders.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { RecordingCache, orderJson } from './support.js'

let db: TestDatabase
let orders: OrderStore
let deadLetters: DeadLetterStore
let cache: RecordingCache
let replay: ReturnType<typeof createReplay>

beforeAll(async () => {
  db = await startTestDatabase()
  orders = createOrderStore(db.sql)
  deadLetters = createDeadLetterStore(db.sql, { maxPayloadBytes: 4096 })
})
afterAll(() => db?.stop())
beforeEach(async () => {
  await db.truncate()
  cache = new RecordingCache()
  replay = createReplay({ transaction: transactionOn(db.sql), orders, deadLetters, cache, gate: checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 })) })
})

/** A dead letter as the writer leaves it; returns its id. */
async function deadLetter(payload: string, reason: RejectReason = 'schema', store = deadLetters): Promise<string> {
  await store.insertMany([{ channel: 'orders', brokerSeq: null, reason, errors: [], orderUid: null, payload: Buffer.from(payload) }])
  const [latest] = await store.list({ limit: 1 })
  return latest!.id
}

describe('replay of a dead letter', () => {
  it('When the payload now passes the gate, then it is stored, cached and the dead letter is marked', async () => {
    // Rejected by an older, stricter schema: today's gate accepts it.
    const id = await deadLetter(orderJson('r1'))
    expect(await replay(id)).toEqual({ outcome: 'stored' })
    expect(cache.bodies.get('r1')).toBe(await orders.findBody('r1'))
    expect(await deadLetters.get(id)).toMatchObject({ replay_outcome: 'stored', replayed_at: expect.any(Date) })
  })

  it('When it is replayed again, then it is a duplicate and nothing changes', async () => {
    const id = await deadLetter(orderJson('r2'))
    await replay(id)
    expect(await replay(id)).toEqual({ outcome: 'duplicate' })
    expect(await orders.count()).toBe(1)
    expect((await deadLetters.get(id))?.replay_outcome).toBe('duplicate')
  })

  it('When the gate still refuses it, then the reason and errors come back and nothing is stored', async () => {
    const id = await deadLetter(orderJson('r3', (d) => (d.items = [])))
    expect(await replay(id)).toEqual({ outcome: 'rejected', reason: 'schema', errors: [{ path: '/items', message: expect.any(String) }] })
    expect(await orders.count()).toBe(0)
    expect((await deadLetters.get(id))?.replay_outcome).toBe('rejected: schema')
  })

  it('When another order holds its order_uid, then it is rejected as a conflict and the stored order stays', async () => {
    await orders.insertMany([{ orderUid: 'r4', json: orderJson('r4'), brokerSeq: 1 }])
    const id = await deadLetter(orderJson('r4', (d) => (d.locale = 'ru')), 'conflict')
    expect(await replay(id)).toMatchObject({ outcome: 'rejected', reason: 'conflict' })
    expect(JSON.parse((await orders.findBody('r4'))!).locale).toBe('en')
    expect(cache.bodies.size).toBe(0)
  })

  it('When a message the writer dead-lettered is replayed into a conflict, then it is that dead letter, marked, and no other row is written', async () => {
    await orders.insertMany([{ orderUid: 'r6', json: orderJson('r6'), brokerSeq: 1 }])
    const payload = Buffer.from(orderJson('r6', (d) => (d.locale = 'ru')))
    await deadLetters.insertMany([{ channel: 'orders', brokerSeq: 2, reason: 'conflict', errors: [], orderUid: 'r6', payload }])
    const id = (await deadLetters.list({ limit: 1 }))[0]!.id
    expect(await replay(id)).toMatchObject({ outcome: 'rejected', reason: 'conflict' })
    expect((await deadLetters.list({ limit: 10 })).map((letter) => [letter.id, letter.replay_outcome])).toEqual([[id, 'rejected: conflict']])
  })

  it('When the dead letter does not exist or the id is malformed, then it is not_found', async () => {
    expect(await replay('987654')).toEqual({ outcome: 'not_found' })
    expect(await replay('abc')).toEqual({ outcome: 'not_found' })
    expect(await replay('99999999999999999999999')).toEqual({ outcome: 'not_found' })
  })

  it('When only the first bytes of the payload were kept, then it is refused as truncated', async () => {
    const id = await deadLetter(orderJson('r5'), 'too_large', createDeadLetterStore(db.sql, { maxPayloadBytes: 256 }))
    expect(await replay(id)).toEqual({ outcome: 'truncated' })
    expect(await orders.count()).toBe(0)
  })
})
