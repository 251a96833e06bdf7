import { createHash } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { createDeadLetterStore, RETENTION_LOCK, type DeadLetterStore, type NewDeadLetter } from '../../src/store/dead-letters.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'

const db = testDatabaseForFile()
let deadLetters: DeadLetterStore

beforeAll(() => {
  deadLetters = createDeadLetterStore(db.sql, { maxPayloadBytes: 16 })
})

const letter = (overrides: Partial<NewDeadLetter> = {}): NewDeadLetter => ({
  channel: 'orders',
  brokerSeq: 1,
  reason: 'not_json',
  errors: [{ path: '', message: 'Unexpected token' }],
  orderUid: null,
  payload: Buffer.from('{not json'),
  ...overrides,
})

describe('dead-letter store', () => {
  it('When the same message is dead-lettered twice (a redelivery), then it is stored once', async () => {
    expect(await deadLetters.insertMany([letter(), letter()])).toEqual([true, false])
    expect(await deadLetters.insertMany([letter()])).toEqual([false])
    expect(await deadLetters.insertMany([letter({ brokerSeq: 2 }), letter({ brokerSeq: 1, payload: Buffer.from('other') })])).toEqual([true, true])
    expect((await deadLetters.list({ limit: 10 })).map((row) => row.broker_seq)).toEqual(['2', '1', '1'])
  })

  it('When a payload is over the bound, then it is cut but its size and hash describe the original', async () => {
    const payload = Buffer.from('x'.repeat(40))
    await deadLetters.insertMany([letter({ payload, reason: 'too_large' })])
    const [summary] = await deadLetters.list({ limit: 1 })
    const stored = await deadLetters.get(summary!.id)
    expect(stored).toMatchObject({ payload_size: 40, truncated: true, reason: 'too_large' })
    expect(stored!.payload.byteLength).toBe(16)
    expect(stored!.payload_sha256).toBe(createHash('sha256').update(payload).digest('hex'))
  })

  it('Should show invalid UTF-8 in the preview as replacement characters', async () => {
    await deadLetters.insertMany([letter({ payload: Buffer.from([0x7b, 0xff, 0xfe, 0x41]), reason: 'not_utf8' })])
    const [summary] = await deadLetters.list({ limit: 1 })
    expect(summary!.preview).toBe('{\uFFFD\uFFFDA')
  })

  it('Should page newest first and record a replay', async () => {
    await deadLetters.insertMany([1, 2, 3].map((seq) => letter({ brokerSeq: seq })))
    const first = await deadLetters.list({ limit: 2 })
    const rest = await deadLetters.list({ limit: 2, before: first[1]!.id })
    expect([...first, ...rest].map((row) => row.broker_seq)).toEqual(['3', '2', '1'])
    await deadLetters.markReplayed(first[0]!.id, 'rejected')
    expect(await deadLetters.get(first[0]!.id)).toMatchObject({ replay_outcome: 'rejected' })
    expect((await deadLetters.get(first[0]!.id))!.replayed_at).toBeInstanceOf(Date)
  })

  it('When there are more than nine dead letters, then they page newest first by id, not by text', async () => {
    await deadLetters.insertMany(Array.from({ length: 12 }, (_, i) => letter({ brokerSeq: i + 1 })))
    const page = await deadLetters.list({ limit: 4 })
    expect(page.map((row) => row.broker_seq)).toEqual(['12', '11', '10', '9'])
    expect((await deadLetters.list({ limit: 4, before: page[3]!.id })).map((row) => row.broker_seq)).toEqual(['8', '7', '6', '5'])
  })

  it('When retention is applied, then rows past the row bound go, oldest first', async () => {
    await deadLetters.insertMany([1, 2, 3, 4, 5].map((seq) => letter({ brokerSeq: seq })))
    expect(await deadLetters.prune({ maxRows: 2, maxAgeDays: 30 })).toBe(3)
    expect((await deadLetters.list({ limit: 10 })).map((row) => row.broker_seq)).toEqual(['5', '4'])
  })

  it('When another instance is applying retention, then this one skips the round; after it, this one prunes', async () => {
    await deadLetters.insertMany([1, 2, 3, 4, 5].map((seq) => letter({ brokerSeq: seq })))
    const other = db.sql.reserve()
    const connection = await other
    try {
      // The other instance's prune holds the retention lock for the length of its transaction.
      await connection`begin`
      const [held] = await connection<{ taken: boolean }[]>`select pg_try_advisory_xact_lock(${RETENTION_LOCK}) as taken`
      expect(held?.taken).toBe(true)
      expect(await deadLetters.prune({ maxRows: 2, maxAgeDays: 30 })).toBe(0)
      await connection`commit`
    } finally {
      connection.release()
    }
    expect(await deadLetters.prune({ maxRows: 2, maxAgeDays: 30 })).toBe(3)
  })
})
