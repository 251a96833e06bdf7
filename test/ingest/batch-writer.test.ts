import { beforeEach, describe, expect, it } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { checkInThisThread, createGate, type Gate } from '../../src/ingest/gate.js'
import type { Order } from '../../src/ingest/order-schema.js'
import { createOrderStore } from '../../src/store/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { orderJson, outcomes, writerFor } from './support.js'

const db = testDatabaseForFile()

const deadLetters = () =>
  db.sql<{ broker_seq: string; reason: string; order_uid: string | null; errors: { path: string; message: string }[] }[]>`
    select broker_seq::text, reason, order_uid, errors from dead_letters order by id`

describe('batch writer', () => {
  it('When orders arrive, then they are stored, cached and acked, and the ack comes after the commit', async () => {
    const { writer, acked, cache, metrics } = writerFor(db.sql)
    const orders = createOrderStore(db.sql)
    // At ack time, another connection must already see the order: the ack follows the commit.
    const seenAtAck: Promise<string | undefined>[] = []
    for (const [seq, uid] of [[1, 'a1'], [2, 'a2'], [3, 'a3']] as const) {
      writer.add({ data: Buffer.from(orderJson(uid)), sequence: seq, ack: () => (acked.push(seq), seenAtAck.push(orders.findBody(uid))) })
    }
    await writer.stop()

    expect(acked).toEqual([1, 2, 3])
    expect((await Promise.all(seenAtAck)).every((body) => body !== undefined)).toBe(true)
    expect([...cache.bodies.keys()]).toEqual(['a1', 'a2', 'a3'])
    expect(cache.bodies.get('a2')).toBe(await orders.findBody('a2'))
    expect(await outcomes(metrics)).toEqual({ stored: 3 })
    expect(writer.isHealthy()).toBe(true)
  })

  it('When stop is called while the gate is still at work, then every caller waits until those messages are stored and acked', async () => {
    // A gate that answers late, as the gate thread does under load.
    const check = checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 }))
    const slowGate = async (payload: Uint8Array) => {
      await sleep(50)
      return check(payload)
    }
    const { writer, deliver, acked } = writerFor(db.sql, { gate: slowGate })
    deliver(1, orderJson('g1'))
    deliver(2, orderJson('g2'))
    await Promise.all([writer.stop(), writer.stop()])

    expect(acked).toEqual([1, 2])
    expect(await createOrderStore(db.sql).count()).toBe(2)
  })

  it('When an identical order is delivered again, then it is acked, counted as a duplicate, stored once, and cached as stored', async () => {
    const first = writerFor(db.sql)
    first.deliver(1, orderJson('d1'))
    await first.writer.stop()
    const second = writerFor(db.sql)
    second.deliver(2, orderJson('d1'))
    await second.writer.stop()

    expect(second.acked).toEqual([2])
    expect(await outcomes(second.metrics)).toEqual({ duplicate: 1 })
    // The second writer had not cached it (another instance's order, or its own whose commit answer was lost):
    // now a read of it does not depend on the database.
    expect([...second.cache.bodies]).toEqual([['d1', await createOrderStore(db.sql).findBody('d1')]])
    expect(await createOrderStore(db.sql).count()).toBe(1)
  })

  it('When a different order comes under a stored order_uid, then it is dead-lettered as a conflict and the original stays', async () => {
    const first = writerFor(db.sql)
    first.deliver(1, orderJson('c1'))
    await first.writer.stop()
    const second = writerFor(db.sql)
    second.deliver(2, orderJson('c1', (d) => (d.track_number = 'CHANGED')))
    await second.writer.stop()

    expect(second.acked).toEqual([2])
    expect(await deadLetters()).toMatchObject([{ broker_seq: '2', reason: 'conflict', order_uid: 'c1' }])
    expect(JSON.parse((await createOrderStore(db.sql).findBody('c1'))!).track_number).toBe('WBILMTESTTRACK')
    expect(await outcomes(second.metrics)).toEqual({ 'dead_lettered/conflict': 1 })
    // The conflicting message delivered again: its dead letter is there already.
    const third = writerFor(db.sql)
    third.deliver(2, orderJson('c1', (d) => (d.track_number = 'CHANGED')))
    await third.writer.stop()
    expect(await deadLetters()).toHaveLength(1)
    expect(await outcomes(third.metrics)).toEqual({ 'already_dead_lettered/conflict': 1 })
  })

  it('When garbage is redelivered, while pending and after its ack, then it is dead-lettered once and every delivery is acked', async () => {
    const first = writerFor(db.sql)
    first.deliver(7, 'not json at all')
    first.deliver(7, 'not json at all')
    expect(first.writer.pendingCount()).toBe(1)
    await first.writer.stop()
    // The ack was lost: the broker delivers it again to the next run.
    const second = writerFor(db.sql)
    second.deliver(7, 'not json at all')
    await second.writer.stop()

    expect(first.acked).toEqual([7, 7])
    expect(second.acked).toEqual([7])
    expect(await deadLetters()).toMatchObject([{ broker_seq: '7', reason: 'not_json', order_uid: null }])
    // Counted as what each transaction wrote: one dead letter, then a redelivery absorbed.
    expect(await outcomes(first.metrics)).toEqual({ 'dead_lettered/not_json': 1 })
    expect(await outcomes(second.metrics)).toEqual({ 'already_dead_lettered/not_json': 1 })
  })

  it('When mixed messages arrive together, then orders and dead letters are written in one transaction', async () => {
    const { writer, deliver, acked, metrics } = writerFor(db.sql)
    deliver(1, orderJson('m1'))
    deliver(2, Buffer.from([0xff, 0xfe]))
    deliver(3, orderJson('m2'))
    deliver(4, orderJson('m3', (d) => (d.payment.amount = -5)))
    deliver(5, '')
    await writer.stop()

    expect(acked).toEqual([1, 2, 3, 4, 5])
    const xids = await db.sql<{ xid: string }[]>`
      select xmin::text as xid from orders union select xmin::text from dead_letters`
    expect(xids).toHaveLength(1)
    expect((await deadLetters()).map((d) => [d.broker_seq, d.reason, d.order_uid])).toEqual([
      ['2', 'not_utf8', null],
      ['4', 'schema', 'm3'],
      ['5', 'empty', null],
    ])
    expect(await outcomes(metrics)).toEqual({ stored: 2, 'dead_lettered/not_utf8': 1, 'dead_lettered/schema': 1, 'dead_lettered/empty': 1 })
  })

  it('When one batch holds the same order_uid more than once, then the first is stored and the others meet it as duplicate or conflict', async () => {
    const { writer, deliver, acked, metrics } = writerFor(db.sql)
    deliver(1, orderJson('s1'))
    deliver(2, orderJson('s1'))
    deliver(3, orderJson('s1', (d) => (d.locale = 'ru')))
    deliver(4, orderJson('s2'))
    await writer.stop()

    expect(acked.sort()).toEqual([1, 2, 3, 4])
    expect(await outcomes(metrics)).toEqual({ stored: 2, duplicate: 1, 'dead_lettered/conflict': 1 })
    expect(await deadLetters()).toMatchObject([{ broker_seq: '3', reason: 'conflict', order_uid: 's1' }])
  })

  it('When more messages arrive than fit one batch, then they are written in batches of at most maxBatch', async () => {
    const { writer, deliver, acked, metrics } = writerFor(db.sql, { maxBatch: 4 })
    for (let seq = 1; seq <= 10; seq++) deliver(seq, orderJson(`b${seq}`))
    await writer.stop()

    // Batches are written two at a time, so they may commit (and be acked) in either order.
    expect([...acked].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const sizes = (await metrics.batchSize.get()).values.find((v) => v.metricName === 'order_batch_size_sum')
    const batches = (await metrics.batchSize.get()).values.find((v) => v.metricName === 'order_batch_size_count')
    expect([sizes?.value, batches?.value]).toEqual([10, 3])
  })

  it('When PostgreSQL refuses a message the gate let through, then only that message is dead-lettered as unstorable', async () => {
    // A gate that lets everything JSON through, as a schema gap would: PostgreSQL's jsonb refuses U+0000.
    const lenient: Gate = (payload) => {
      const json = Buffer.from(payload).toString()
      const order = JSON.parse(json) as Order
      return { ok: true, order, orderUid: order.order_uid, json }
    }
    const { writer, deliver, acked, cache } = writerFor(db.sql, { gate: checkInThisThread(lenient) })
    deliver(1, orderJson('u1'))
    deliver(2, orderJson('u2'))
    deliver(3, orderJson('u3', (d) => (d.delivery.name = 'Nul\u0000l')))
    deliver(4, orderJson('u4'))
    deliver(5, orderJson('u5'))
    await writer.stop()

    expect(acked.sort()).toEqual([1, 2, 3, 4, 5])
    expect([...cache.bodies.keys()].sort()).toEqual(['u1', 'u2', 'u4', 'u5'])
    const [letter, ...others] = await deadLetters()
    expect(others).toEqual([])
    expect(letter).toMatchObject({ broker_seq: '3', reason: 'unstorable', order_uid: 'u3' })
    expect(letter?.errors[0]?.message).toMatch(/^PostgreSQL refused the message: 22/)
  })
})

describe('first wins', () => {
  const PAIRS = 100
  /** Orders ahead of the first copies in their batch: that batch's insert reaches the pairs later. */
  const FILL = 300
  const first = (uid: string) => orderJson(uid)
  const later = (uid: string) => orderJson(uid, (d) => (d.track_number = 'LATER'))
  const uids = Array.from({ length: PAIRS }, (_, i) => `fw${String(i).padStart(3, '0')}`)
  const fillers = Array.from({ length: FILL }, (_, i) => orderJson(`fill${i}`))

  // Every connection of the pool open: concurrent batches start at once instead of waiting for a connection.
  beforeEach(() => Promise.all([1, 2, 3, 4].map(() => db.sql`select pg_sleep(0.01)`)))

  /** The track_number stored under each pair's order_uid: 'WBILMTESTTRACK' where the first copy won. */
  async function storedTracks(): Promise<Map<string, string>> {
    const rows = await db.sql<{ order_uid: string; track: string }[]>`
      select order_uid, doc ->> 'track_number' as track from orders where order_uid like 'fw%'`
    return new Map(rows.map((row) => [row.order_uid, row.track]))
  }

  async function expectFirstWon(metrics: ReturnType<typeof writerFor>['metrics'], laterSeqs: number[]): Promise<void> {
    const tracks = await storedTracks()
    expect(tracks.size).toBe(PAIRS)
    expect([...tracks.entries()].filter(([, track]) => track !== 'WBILMTESTTRACK').map(([uid]) => uid)).toEqual([])
    const letters = await deadLetters()
    expect(letters.every((letter) => letter.reason === 'conflict')).toBe(true)
    expect(letters.map((letter) => Number(letter.broker_seq)).sort((a, b) => a - b)).toEqual(laterSeqs)
    // A deadlock (40P01) shows as a retried batch.
    expect((await metrics.batchRetries.get()).values[0]?.value ?? 0).toBe(0)
  }

  it('When two different documents under one order_uid come in one batch, then the first is stored and the later is a conflict', async () => {
    const { writer, deliver, acked, metrics } = writerFor(db.sql, { maxBatch: 1000 })
    fillers.forEach((json, i) => deliver(i + 1, json))
    uids.forEach((uid, i) => {
      deliver(FILL + 2 * i + 1, first(uid))
      deliver(FILL + 2 * i + 2, later(uid))
    })
    await writer.stop()

    expect(acked).toHaveLength(FILL + 2 * PAIRS)
    await expectFirstWon(metrics, uids.map((_, i) => FILL + 2 * i + 2))
  })

  it('When the first copies are in one batch and the later copies in the next, written at the same time, then every first copy is stored', async () => {
    const { writer, deliver, acked, metrics } = writerFor(db.sql, { maxBatch: FILL + PAIRS })
    fillers.forEach((json, i) => deliver(i + 1, json))
    uids.forEach((uid, i) => deliver(FILL + i + 1, first(uid)))
    uids.forEach((uid, i) => deliver(FILL + PAIRS + i + 1, later(uid)))
    await writer.stop()

    expect(acked).toHaveLength(FILL + 2 * PAIRS)
    await expectFirstWon(metrics, uids.map((_, i) => FILL + PAIRS + i + 1))
  })

  // Crossing pairs race (a deadlock needs both inserts to reach the pairs at once): several rounds, each from scratch.
  const ROUNDS = 10

  it('When the later copies come in the reverse order of the first ones, in the next batch, then every first copy is stored and no deadlock occurs', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await db.truncate()
      const { writer, deliver, acked, metrics } = writerFor(db.sql, { maxBatch: PAIRS })
      uids.forEach((uid, i) => deliver(i + 1, first(uid)))
      ;[...uids].reverse().forEach((uid, i) => deliver(PAIRS + i + 1, later(uid)))
      await writer.stop()

      expect(acked).toHaveLength(2 * PAIRS)
      await expectFirstWon(metrics, uids.map((_, i) => PAIRS + i + 1))
    }
  })

  it('When two instances write crossing copies at the same time, then each order_uid has one stored copy and one conflict, and no deadlock occurs', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await db.truncate()
      // Two writers on one database, as two instances sharing a channel: which copy came first is not observable across them.
      const one = writerFor(db.sql, { maxBatch: PAIRS })
      const two = writerFor(db.sql, { maxBatch: PAIRS })
      uids.forEach((uid, i) => one.deliver(i + 1, first(uid)))
      ;[...uids].reverse().forEach((uid, i) => two.deliver(PAIRS + i + 1, later(uid)))
      await Promise.all([one.writer.stop(), two.writer.stop()])

      expect(one.acked).toHaveLength(PAIRS)
      expect(two.acked).toHaveLength(PAIRS)
      expect((await storedTracks()).size).toBe(PAIRS)
      const letters = await deadLetters()
      expect(letters).toHaveLength(PAIRS)
      expect(new Set(letters.map((letter) => letter.order_uid)).size).toBe(PAIRS)
      for (const metrics of [one.metrics, two.metrics]) expect((await metrics.batchRetries.get()).values[0]?.value ?? 0).toBe(0)
    }
  })
})
