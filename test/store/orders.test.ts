import { beforeAll, describe, expect, it } from 'vitest'
import { jsonbText } from '../../src/ingest/jsonb-text.js'
import { createOrderStore, slotsFor, type OrderStore } from '../../src/store/orders.js'
import { migrate } from '../../src/store/migrate.js'
import { orderJson } from '../support/orders.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'

/** The sample order under another order_uid, in jsonb's text form (as the gate hands it to the store). */
const withUid = (uid: string, change: (doc: Record<string, any>) => void = () => {}) => jsonbText(JSON.parse(orderJson(uid, change)))

const db = testDatabaseForFile()
let orders: OrderStore

beforeAll(() => {
  orders = createOrderStore(db.sql)
})

describe('order store', () => {
  it('When a batch is inserted, then each order is stored once and served in jsonb text form', async () => {
    const results = await orders.insertMany([
      { orderUid: 'a1', json: withUid('a1'), brokerSeq: 1 },
      { orderUid: 'a2', json: withUid('a2'), brokerSeq: 2 },
    ])
    expect(results.map((r) => [r.orderUid, r.status])).toEqual([['a1', 'stored'], ['a2', 'stored']])
    // What is cached on insert is byte for byte what PostgreSQL serves after a restart.
    const body = await orders.findBody('a1')
    expect(body).toBe(withUid('a1'))
    expect(results[0]).toMatchObject({ body })
    expect(await orders.count()).toBe(2)
  })

  it('When an order’s text is given as its UTF-8 bytes (as the gate thread sends it), then that text is stored, and a redelivery in either form is a duplicate', async () => {
    // Cyrillic too: bytes and characters differ, so a length taken in characters would cut the text short.
    const text = withUid('b1', (doc) => (doc.delivery.city = 'Санкт-Петербург'))
    // A view into a larger buffer, as each order's text is into its batch's.
    const batch = Buffer.from(`padding${text}padding`)
    const bytes = new Uint8Array(batch.buffer, batch.byteOffset + 7, Buffer.byteLength(text))
    const [stored] = await orders.insertMany([{ orderUid: 'b1', json: bytes, brokerSeq: 1 }])
    expect(stored).toMatchObject({ status: 'stored' })
    expect(await orders.findBody('b1')).toBe(text)
    const again = await orders.insertMany([{ orderUid: 'b1', json: text, brokerSeq: 2 }])
    const againAsBytes = await orders.insertMany([{ orderUid: 'b1', json: Buffer.from(text), brokerSeq: 3 }])
    const other = await orders.insertMany([{ orderUid: 'b1', json: Buffer.from(withUid('b1', (doc) => (doc.entry = 'WBXX'))), brokerSeq: 4 }])
    expect([again, againAsBytes, other].map(([result]) => result)).toEqual([
      { orderUid: 'b1', status: 'existing', identical: true },
      { orderUid: 'b1', status: 'existing', identical: true },
      { orderUid: 'b1', status: 'existing', identical: false },
    ])
  })

  it('When batches of every size from 1 to 40 are inserted, then each order is stored once with its own sequence', async () => {
    // Most sizes leave slots of their statement empty (slotsFor): those must store nothing.
    let seq = 0
    for (let size = 1; size <= 40; size++) {
      const batch = Array.from({ length: size }, () => {
        seq++
        return { orderUid: `s${seq}`, json: withUid(`s${seq}`), brokerSeq: seq }
      })
      const results = await orders.insertMany(batch)
      expect(results.every((result) => result.status === 'stored')).toBe(true)
    }
    const [row] = await db.sql<{ n: number; distinct_seqs: number; matching: number }[]>`
      select count(*)::int as n, count(distinct broker_seq)::int as distinct_seqs,
             (count(*) filter (where 's' || broker_seq = order_uid and doc ->> 'order_uid' = order_uid))::int as matching
      from orders`
    expect(row).toEqual({ n: 820, distinct_seqs: 820, matching: 820 })
  })

  it('Should size insert statements on a ladder: never smaller than the batch, at most a third padding, few sizes', () => {
    const sizes = new Set<number>()
    for (let rows = 1; rows <= 10_000; rows++) {
      const slots = slotsFor(rows)
      expect(Number.isInteger(slots) && slots >= rows && slots <= Math.max(rows * 1.5, 2)).toBe(true)
      sizes.add(slots)
    }
    // 1, 2, 3, 4, 6, 8, …, 8192, 12288: within PostgreSQL's 65,535 parameters at 3 per row.
    expect(sizes.size).toBe(27)
    expect(Math.max(...sizes) * 3).toBeLessThanOrEqual(65_535)
  })

  it('When an order_uid is already stored, then the stored order stays and the result tells duplicate from conflict', async () => {
    await orders.insertMany([{ orderUid: 'b1', json: withUid('b1'), brokerSeq: 1 }])
    // The same document from another message (its key order and spacing are gone once parsed).
    const reordered = jsonbText(Object.fromEntries(Object.entries(JSON.parse(withUid('b1'))).reverse()))
    const changed = withUid('b1', (doc) => (doc.track_number = 'OTHER'))
    const results = await orders.insertMany([
      { orderUid: 'b1', json: reordered, brokerSeq: 2 },
      { orderUid: 'b2', json: withUid('b2'), brokerSeq: 3 },
    ])
    expect(results).toEqual([
      { orderUid: 'b1', status: 'existing', identical: true },
      expect.objectContaining({ orderUid: 'b2', status: 'stored' }),
    ])
    expect(await orders.insertMany([{ orderUid: 'b1', json: changed, brokerSeq: 4 }])).toEqual([
      { orderUid: 'b1', status: 'existing', identical: false },
    ])
    expect(JSON.parse((await orders.findBody('b1'))!).track_number).toBe('WBILMTESTTRACK')
  })

  it('Should list recent orders newest first with a keyset cursor', async () => {
    for (const uid of ['r1', 'r2', 'r3']) await orders.insertMany([{ orderUid: uid, json: withUid(uid), brokerSeq: null }])
    const first = await orders.recent({ limit: 2 })
    expect(first.map((o) => o.order_uid)).toEqual(['r3', 'r2'])
    expect(first[0]!.date_created).toBe('2021-11-26T06:22:19Z')
    const next = await orders.recent({ limit: 2, before: first[1]!.ingest_id })
    expect(next.map((o) => o.order_uid)).toEqual(['r1'])
  })

  it('When there are more than nine orders, then the newest come first by arrival, not by text', async () => {
    const uids = Array.from({ length: 12 }, (_, i) => `t${i + 1}`)
    for (const uid of uids) await orders.insertMany([{ orderUid: uid, json: withUid(uid), brokerSeq: null }])
    const page = await orders.recent({ limit: 5 })
    expect(page.map((o) => o.order_uid)).toEqual(['t12', 't11', 't10', 't9', 't8'])
    expect((await orders.recent({ limit: 5, before: page[4]!.ingest_id })).map((o) => o.order_uid)).toEqual(['t7', 't6', 't5', 't4', 't3'])
  })

  it('Should page through every order newest first', async () => {
    await orders.insertMany(['n1', 'n2', 'n3', 'n4', 'n5'].map((uid) => ({ orderUid: uid, json: withUid(uid), brokerSeq: null })))
    const pages: string[][] = []
    for await (const page of orders.newestFirst(2)((body) => Buffer.from(body))) pages.push(page.map((o) => o.orderUid))
    expect(pages).toEqual([['n5', 'n4'], ['n3', 'n2'], ['n1']])
  })

  it('When more than nine orders are paged newest first, then pages follow arrival, and each body is what findBody serves', async () => {
    const uids = Array.from({ length: 12 }, (_, i) => `p${i + 1}`)
    await orders.insertMany(uids.map((uid) => ({ orderUid: uid, json: withUid(uid), brokerSeq: null })))
    const pages: string[][] = []
    const bodies = new Map<string, string>()
    for await (const page of orders.newestFirst(5)((body) => Buffer.from(body).toString('utf8'))) {
      pages.push(page.map((o) => o.orderUid))
      for (const o of page) bodies.set(o.orderUid, o.body)
    }
    expect(pages).toEqual([
      ['p12', 'p11', 'p10', 'p9', 'p8'],
      ['p7', 'p6', 'p5', 'p4', 'p3'],
      ['p2', 'p1'],
    ])
    for (const uid of uids) expect(bodies.get(uid)).toBe(await orders.findBody(uid))
  })

  it('When migrations run again, then nothing is applied twice', async () => {
    expect(await migrate(db.sql)).toEqual([])
  })
})
