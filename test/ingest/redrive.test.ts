import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import * as v from 'valibot'
import { checkInThisThread, createGate, type GateCheck } from '../../src/ingest/gate.js'
import { createRedrive, SelectionInput, type RedriveProgress } from '../../src/ingest/redrive.js'
import { createReplayStep } from '../../src/ingest/replay.js'
import type { RejectReason } from '../../src/ingest/verdict.js'
import { createMetrics } from '../../src/metrics.js'
import { connectDatabase, type Sql } from '../../src/store/db.js'
import { createRedriveStore } from '../../src/store/dead-letter-redrives.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, RecordingCache, writerFor } from './support.js'

let db: TestDatabase
/** A second operator's pool: its own connections, as another instance or bin/redrive has. */
let other: Sql

beforeAll(async () => {
  db = await startTestDatabase()
  other = connectDatabase(db.url, { max: 4 })
})
afterAll(async () => {
  await other?.end({ timeout: 5 })
  await db?.stop()
})
beforeEach(() => db.truncate())

const realGate = checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 }))

function redriveOn(sql: Sql, options: { gate?: GateCheck; batchSize?: number; transaction?: Parameters<typeof createRedrive>[0]['transaction'] } = {}) {
  const orders = createOrderStore(sql)
  const deadLetters = createDeadLetterStore(sql, { maxPayloadBytes: 4096 })
  const cache = new RecordingCache()
  const metrics = createMetrics({ processMetrics: false })
  const redrive = createRedrive({
    transaction: options.transaction ?? ((work) => sql.begin(work) as never),
    store: createRedriveStore(sql),
    deadLetters,
    replayLetter: createReplayStep({ orders, deadLetters, gate: options.gate ?? realGate }),
    cache,
    metrics,
    batchSize: options.batchSize ?? 10,
  })
  return { redrive, cache, metrics }
}

const select = (input: Record<string, unknown> = {}) => v.parse(SelectionInput, input)

interface Seed {
  payload: string
  reason?: RejectReason
  channel?: string
  orderUid?: string | null
  /** Received this many hours before 2026-01-10T00:00:00Z. */
  hoursAgo?: number
}

/** Dead letters as the writer leaves them, received at the given times; returns their ids in order. */
async function seed(letters: Seed[]): Promise<string[]> {
  const store = createDeadLetterStore(db.sql, { maxPayloadBytes: 4096 })
  let seq = (await db.sql<{ n: number }[]>`select count(*)::int as n from dead_letters`)[0]!.n
  await store.insertMany(
    letters.map((letter) => ({
      channel: letter.channel ?? 'orders',
      brokerSeq: ++seq,
      reason: letter.reason ?? 'schema',
      errors: [],
      orderUid: letter.orderUid === undefined ? (JSON.parse(letter.payload.startsWith('{') ? letter.payload : '{}').order_uid ?? null) : letter.orderUid,
      payload: Buffer.from(letter.payload),
    })),
  )
  // The store inserts in (channel, sequence) order: ids are found by sequence.
  const rows = await db.sql<{ id: string; broker_seq: string }[]>`select id::text as id, broker_seq::text from dead_letters where broker_seq > ${seq - letters.length}`
  const bySeq = new Map(rows.map((row) => [Number(row.broker_seq), row.id]))
  const ids = letters.map((_, i) => bySeq.get(seq - letters.length + i + 1)!)
  for (const [i, letter] of letters.entries()) {
    await db.sql`update dead_letters set received_at = '2026-01-10T00:00:00Z'::timestamptz - make_interval(hours => ${letter.hoursAgo ?? 0}) where id = ${ids[i]!}::bigint`
  }
  return ids
}

/** `n` letters of orders today's gate accepts (rejected by an older, stricter schema). */
const fixable = (prefix: string, n: number, extra: Partial<Seed> = {}): Seed[] =>
  Array.from({ length: n }, (_, i) => ({ payload: orderJson(`${prefix}${i}`), ...extra }))

const orderCount = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from orders`)[0]!.n
const outcomesById = async () =>
  Object.fromEntries(
    (await db.sql<{ letter_id: string; outcome: string | null }[]>`select letter_id::text, outcome from dead_letter_redrive_letters`).map((row) => [row.letter_id, row.outcome]),
  )

describe('bulk re-drive of dead letters', () => {
  it('When a dry run is asked, then it says what would be stored, duplicated and rejected (by reason) and writes nothing', async () => {
    await createOrderStore(db.sql).insertMany([{ orderUid: 'dup0', json: orderJson('dup0'), brokerSeq: 1 }, { orderUid: 'con0', json: orderJson('con0'), brokerSeq: 2 }])
    await seed([
      ...fixable('s', 3),
      { payload: orderJson('dup0') },
      { payload: orderJson('con0', (d) => (d.locale = 'ru')) },
      { payload: orderJson('bad', (d) => (d.items = [])) },
      { payload: '{not json', reason: 'not_json', orderUid: null },
    ])
    const before = await db.sql`select * from dead_letters order by id`
    const { redrive } = redriveOn(db.sql, { batchSize: 3 })

    expect(await redrive.dryRun(select())).toEqual({
      selected: 7,
      counts: { stored: 3, duplicate: 1, rejected: { conflict: 1, schema: 1, not_json: 1 }, truncated: 0 },
    })
    expect(await orderCount()).toBe(2)
    expect(await db.sql`select * from dead_letters order by id`).toEqual(before)
    expect(await db.sql`select * from dead_letter_redrives`).toHaveLength(0)
  })

  it('When it runs, then each letter goes through the replay step: stored, cached, marked, counted by outcome', async () => {
    const ids = await seed([...fixable('r', 25), { payload: orderJson('bad', (d) => (d.items = [])) }])
    const { redrive, cache, metrics } = redriveOn(db.sql, { batchSize: 10 })
    const progress: RedriveProgress[] = []

    const { id, joined } = await redrive.start(select({ reason: 'schema' }))
    const counts = await redrive.run(id, { onProgress: (p) => progress.push(structuredClone(p)) })

    expect(joined).toBe(false)
    expect(counts).toEqual({ stored: 25, duplicate: 0, rejected: { schema: 1 }, truncated: 0 })
    expect(await orderCount()).toBe(25)
    expect(cache.bodies.size).toBe(25)
    expect(progress.map((p) => p.done)).toEqual([0, 10, 20, 26, 26])
    expect(progress.every((p) => p.total === 26)).toBe(true)
    expect((await createDeadLetterStore(db.sql, { maxPayloadBytes: 4096 }).get(ids[0]!))?.replay_outcome).toBe('stored')
    expect(await redrive.state(id)).toMatchObject({ done: 26, total: 26, finished_at: expect.any(Date), outcomes: { stored: 25, 'rejected: schema': 1 } })
    const { values } = await metrics.redrivenLetters.get()
    expect(Object.fromEntries(values.map((value) => [value.labels.outcome, value.value]))).toEqual({ stored: 25, rejected: 1 })
  })

  it('When letters are selected by reason, channel, time range and limit, then exactly those are re-driven', async () => {
    const ids = await seed([
      { payload: orderJson('a0'), reason: 'schema', channel: 'orders', hoursAgo: 50 },
      { payload: orderJson('a1'), reason: 'schema', channel: 'orders', hoursAgo: 30 },
      { payload: orderJson('a2'), reason: 'schema', channel: 'ORDERS', hoursAgo: 20 },
      { payload: orderJson('a3'), reason: 'not_json', channel: 'orders', hoursAgo: 10 },
      { payload: orderJson('a4'), reason: 'schema', channel: 'orders', hoursAgo: 1 },
    ])
    const { redrive } = redriveOn(db.sql)
    const chosen = async (input: Record<string, unknown>) => {
      const { id } = await redrive.start(select(input))
      await redrive.run(id)
      return Object.keys(await outcomesById()).filter((letter) => ids.includes(letter))
    }
    const reset = async () => {
      await db.sql`delete from dead_letter_redrives`
      await db.sql`delete from orders`
      await db.sql`update dead_letters set replayed_at = null, replay_outcome = null`
    }
    const only = async (input: Record<string, unknown>) => {
      await reset()
      return (await chosen(input)).map((letter) => ids.indexOf(letter)).sort()
    }

    expect(await only({ reason: 'not_json' })).toEqual([3])
    expect(await only({ channel: 'ORDERS' })).toEqual([2])
    // From inclusive (a1 was received at 18:00), to exclusive (a3 at 14:00).
    expect(await only({ from: '2026-01-08T18:00:00Z', to: '2026-01-09T14:00:00Z' })).toEqual([1, 2])
    expect(await only({ to: '2026-01-08' })).toEqual([0])
    expect(await only({ reason: 'schema', channel: 'orders', limit: 2 })).toEqual([0, 1])
    await reset()
    // An offset is an instant like any other: 22:00 UTC the day before, when a0 was received.
    expect(await redrive.dryRun(select({ reason: 'schema', channel: 'orders', from: '2026-01-08T00:00:00+02:00' }))).toMatchObject({ selected: 3 })
  })

  it('When a letter was already stored by a replay, then a re-drive leaves it out', async () => {
    await seed(fixable('once', 3))
    const { redrive } = redriveOn(db.sql)
    const first = await redrive.start(select())
    await redrive.run(first.id)
    expect(await redrive.dryRun(select())).toEqual({ selected: 0, counts: { stored: 0, duplicate: 0, rejected: {}, truncated: 0 } })
    const second = await redrive.start(select())
    expect(second.id).not.toBe(first.id)
    expect(await redrive.run(second.id)).toEqual({ stored: 0, duplicate: 0, rejected: {}, truncated: 0 })
  })

  it('When two operators start the same re-drive at once, then they share it and each letter is stored once', async () => {
    await seed(fixable('c', 60))
    const b = redriveOn(other, { batchSize: 5 })
    // A holds its first batch until B has committed one: both really work on the set at the same time.
    let bCommitted!: () => void
    const bHasCommitted = new Promise<void>((resolve) => (bCommitted = resolve))
    let held = false
    const a = redriveOn(db.sql, {
      batchSize: 5,
      gate: async (payload) => {
        if (!held) {
          held = true
          await bHasCommitted
        }
        return realGate(payload)
      },
    })
    const selection = select({ reason: 'schema' })

    const [startA, startB] = await Promise.all([a.redrive.start(selection), b.redrive.start(selection)])
    const [countsA, countsB] = await Promise.all([
      a.redrive.run(startA.id),
      b.redrive.run(startB.id, { onProgress: (p) => p.counts.stored > 0 && bCommitted() }),
    ])

    expect(startA.id).toBe(startB.id)
    expect([startA.joined, startB.joined].sort()).toEqual([false, true])
    expect(countsA.stored).toBeGreaterThan(0)
    expect(countsB.stored).toBeGreaterThan(0)
    expect(countsA.stored + countsB.stored).toBe(60)
    expect(countsA.duplicate + countsB.duplicate).toBe(0)
    expect(await orderCount()).toBe(60)
    expect(Object.values(await outcomesById()).filter((outcome) => outcome === 'stored')).toHaveLength(60)
  })

  it('When a re-drive dies midway (an error before a batch commits), then that batch is undone and a new run finishes the set', async () => {
    await seed(fixable('k', 30))
    let batches = 0
    const dying = redriveOn(db.sql, {
      batchSize: 10,
      transaction: (work) =>
        db.sql.begin(async (tx) => {
          const result = await work(tx)
          // The second batch is written but not committed: the process dies there.
          if (++batches === 2) throw new Error('the process died')
          return result
        }) as never,
    })
    const { id } = await dying.redrive.start(select())
    await expect(dying.redrive.run(id)).rejects.toThrow('the process died')
    expect(await orderCount()).toBe(10)
    expect(Object.values(await outcomesById()).filter((outcome) => outcome !== null)).toHaveLength(10)

    const again = redriveOn(other, { batchSize: 10 })
    const resumed = await again.redrive.start(select())
    expect(resumed).toEqual({ id, joined: true })
    expect(await again.redrive.run(id)).toEqual({ stored: 20, duplicate: 0, rejected: {}, truncated: 0 })
    expect(await orderCount()).toBe(30)
    expect(await again.redrive.state(id)).toMatchObject({ done: 30, total: 30, outcomes: { stored: 30 } })
  })

  it('When a batch loses its connection before the commit, then it is done again, and nothing twice', async () => {
    await seed(fixable('t', 30))
    let batches = 0
    const { redrive } = redriveOn(db.sql, {
      batchSize: 10,
      transaction: (work) =>
        db.sql.begin(async (tx) => {
          const result = await work(tx)
          if (++batches === 2) await tx`select pg_terminate_backend(pg_backend_pid())`
          return result
        }) as never,
    })
    const { id } = await redrive.start(select())
    expect(await redrive.run(id)).toEqual({ stored: 30, duplicate: 0, rejected: {}, truncated: 0 })
    expect(await orderCount()).toBe(30)
  })

  it('When ingest stores the same orders while a re-drive runs, then every order is stored once and each letter counted once', async () => {
    // Dead letters of 40 orders, re-driven while the writer takes the same 40 again (republished) and 40 new ones.
    await seed(fixable('i', 40).reverse())
    const { redrive } = redriveOn(other, { batchSize: 4 })
    const { writer, deliver } = writerFor(db.sql, { maxBatch: 8, maxWaitMs: 0 })
    const { id } = await redrive.start(select())

    const running = redrive.run(id)
    for (let i = 0; i < 40; i++) {
      deliver(1000 + i, orderJson(`i${i}`))
      deliver(2000 + i, orderJson(`new${i}`))
    }
    const [counts] = await Promise.all([running, writer.stop()])

    expect(await orderCount()).toBe(80)
    expect(counts.stored + counts.duplicate).toBe(40)
    expect(counts.rejected).toEqual({})
    expect(await redrive.state(id)).toMatchObject({ done: 40, total: 40 })
    expect(await db.sql`select 1 from dead_letters where reason = 'conflict'`).toHaveLength(0)
  })

  it('When a selection is malformed, then every problem is named', () => {
    const result = v.safeParse(SelectionInput, { reason: 'nope', from: 'yesterday', limit: 0, extra: 1 })
    expect(result.success).toBe(false)
    expect(result.issues?.map((issue) => v.getDotPath(issue))).toEqual(expect.arrayContaining(['reason', 'from', 'limit', 'extra']))
    expect(v.safeParse(SelectionInput, { from: '2026-01-02', to: '2026-01-01' }).issues?.[0]?.message).toBe('must be after from')
  })
})
