import type postgres from 'postgres'
import type { Queryable, Sql } from './db.js'

/**
 * An order in jsonb's text form (src/ingest/jsonb-text.ts): a string, or its UTF-8 bytes. The gate thread sends
 * the bytes (a batch's in one buffer, moved rather than copied): the main thread then never holds the text as a
 * string, and the driver and the cache copy the bytes rather than encode the text, each.
 */
export type JsonbText = string | Uint8Array

/** An order that passed the gate, and where it came from. */
export interface NewOrder {
  orderUid: string
  /**
   * The document in jsonb's own text form (jsonbText): stored as is, and returned as the body of a stored order,
   * which is then exactly what PostgreSQL serves for it after a restart.
   */
  json: JsonbText
  brokerSeq: number | null
}

/** What became of each order of a batch, in input order. */
export type InsertResult =
  | { orderUid: string; status: 'stored'; body: JsonbText }
  /** Already stored: identical means the same document (a duplicate), otherwise a conflict. */
  | { orderUid: string; status: 'existing'; identical: boolean }

export interface RecentOrder {
  order_uid: string
  date_created: string | null
  received_at: Date
  ingest_id: string
}

/** A stored order as read for the cache's warm-up: its body as `keep` made it from the stored bytes. */
export interface StoredOrder<B = Uint8Array> {
  orderUid: string
  /** From jsonb's text form as UTF-8 bytes: exactly what is served, stable across restarts. */
  body: B
}

/**
 * Every order, newest first, in pages. `keep` is given each body as it is parsed, as a view of the driver's
 * read buffer that is only valid during the call: it copies what it keeps, and the read buffers are released
 * as soon as they are parsed, before they can pile up in memory (see src/cache/body-slabs.ts).
 */
export type OrderPages = <B>(keep: (body: Uint8Array) => B) => AsyncGenerator<StoredOrder<B>[]>

export type OrderStore = ReturnType<typeof createOrderStore>

/** PostgreSQL's text type (pg_type oid). */
const TEXT = 25

/**
 * The insert for up to `slots` orders: `insert … select * from (values ($1, $2::text::jsonb, $3, nextval(…)), …)
 * where order_uid is not null order by order_uid on conflict do nothing returning order_uid`. A batch fills the
 * first rows and leaves the rest null, which the `where` drops (see slotsFor).
 *
 * Rows go in in order_uid order: transactions that insert some of the same order_uids (two instances on one
 * channel) wait for each other's keys in one order, never in a cycle, so they never deadlock (40P01). The
 * arrival number (ingest_id) is still taken in the batch's order, by the VALUES rows before the sort.
 */
function insertStatementFor(slots: number): string {
  const values = Array.from(
    { length: slots },
    (_, i) => `($${3 * i + 1}::text, $${3 * i + 2}::text::jsonb, $${3 * i + 3}::bigint, nextval('orders_ingest_id_seq'))`,
  )
  return `insert into orders (order_uid, doc, broker_seq, ingest_id) overriding system value
    select * from (values ${values.join(', ')}) as batch (order_uid, doc, broker_seq, ingest_id)
    where order_uid is not null
    order by order_uid collate "C"
    on conflict (order_uid) do nothing returning order_uid`
}

/**
 * The statement size for a batch of `rows`: the next of 1, 2, 3, 4, 6, 8, 12, 16, 24, … (powers of two and the
 * halfway points), so at most a third of its rows are padding. Each statement text is planned by PostgreSQL
 * once per connection, and a statement of 1,500 parameters costs milliseconds to plan: batches of every size,
 * each its own statement, cost PostgreSQL about 40% more per row than batches of one size (`npm run bench`: "raw
 * multi-row INSERT, batches of 300..500, a statement per size" beside "store insertMany, batches of 300..500").
 * With this ladder a pool plans at most two statements per doubling.
 */
export function slotsFor(rows: number): number {
  let slots = 1
  while (slots < rows) slots = slots >= 2 && (slots * 3) / 2 >= rows ? (slots * 3) / 2 : slots * 2
  return slots
}

/** Whether the stored text is the incoming one, in either form. */
function sameStored(stored: string | undefined, json: JsonbText): boolean {
  if (stored === undefined || typeof json === 'string') return stored === json
  return Buffer.from(stored).equals(json)
}

/** The stored text of the orders that were already there: equal text means the same document. */
async function storedBodies(tx: Queryable, orders: readonly NewOrder[], stored: Set<string>): Promise<Map<string, string>> {
  const uids = orders.map((order) => order.orderUid).filter((uid) => !stored.has(uid))
  const rows = await tx<{ order_uid: string; body: string }[]>`
    select order_uid, doc::text as body from orders where order_uid = any(${uids}::text[])`
  return new Map(rows.map((row) => [row.order_uid, row.body]))
}

export function createOrderStore(sql: Sql) {
  /** Statement texts by number of slots (see slotsFor). */
  const insertStatements = new Map<number, string>()
  const insertStatement = (slots: number) => {
    let statement = insertStatements.get(slots)
    if (statement === undefined) insertStatements.set(slots, (statement = insertStatementFor(slots)))
    return statement
  }

  return {
    /**
     * Inserts a batch in one statement. Orders never change: an order_uid already stored is left as it is,
     * and the result says whether the new document was identical to it. order_uids must be unique within the batch.
     */
    async insertMany(orders: readonly NewOrder[], tx: Queryable = sql): Promise<InsertResult[]> {
      if (orders.length === 0) return []
      const slots = slotsFor(orders.length)
      const params: (string | number | postgres.Parameter | null)[] = []
      // Typed as text, the jsonb text given as bytes goes to PostgreSQL as it is (patches/postgres+3.4.9.patch),
      // not encoded again; untyped, the driver would take bytes for a bytea. Strings are typed alike: one statement.
      for (const order of orders) params.push(order.orderUid, tx.typed(order.json, TEXT), order.brokerSeq)
      for (let padding = orders.length; padding < slots; padding++) params.push(null, null, null)
      // A multi-row INSERT is the fastest way in (bench/ingest-*.ts); its text depends only on the slot count,
      // so it is built once per count and PostgreSQL prepares and plans it once per connection.
      const inserted = await tx.unsafe<{ order_uid: string }[]>(insertStatement(slots), params, { prepare: true })
      const stored = new Set(inserted.map((row) => row.order_uid))
      const existing = stored.size === orders.length ? new Map<string, string>() : await storedBodies(tx, orders, stored)
      return orders.map((order): InsertResult =>
        stored.has(order.orderUid)
          ? { orderUid: order.orderUid, status: 'stored', body: order.json }
          : { orderUid: order.orderUid, status: 'existing', identical: sameStored(existing.get(order.orderUid), order.json) },
      )
    },

    /** The served form of one order, or undefined. */
    async findBody(orderUid: string): Promise<string | undefined> {
      const [row] = await sql<{ body: string }[]>`select doc::text as body from orders where order_uid = ${orderUid}`
      return row?.body
    },

    /** Newest first, keyset-paginated by arrival: `before` is the ingest_id of the last row of the previous page. */
    async recent(options: { limit: number; before?: string | undefined }): Promise<RecentOrder[]> {
      return sql<RecentOrder[]>`
        select order_uid, doc ->> 'date_created' as date_created, received_at, ingest_id::text as ingest_id
        from orders
        ${options.before === undefined ? sql`` : sql`where ingest_id < ${options.before}::bigint`}
        -- Qualified: the bare name would sort by the text alias above (9 before 10).
        order by orders.ingest_id desc
        limit ${options.limit}`
    },

    /**
     * Every order, newest first, in pages: what the cache warms from until its budget is full; it stops asking
     * then, so the rest of the table is never read. Raw bytes: the text arrives as UTF-8 and reaches `keep` as
     * such, never becoming a JavaScript string (time and garbage). Keyset pages read row by row (forEach) rather
     * than a cursor, whose page of rows would hold its read buffers until the page is done.
     */
    newestFirst(pageSize = 2000): OrderPages {
      return async function* pages<B>(keep: (body: Uint8Array) => B) {
        let before: string | undefined
        for (;;) {
          const page: StoredOrder<B>[] = []
          let last: string | undefined
          await sql`
            select order_uid, doc::text as body, ingest_id::text as ingest_id
            from orders
            ${before === undefined ? sql`` : sql`where ingest_id < ${before}::bigint`}
            -- Qualified: the bare name would sort by the text alias above (9 before 10).
            order by orders.ingest_id desc
            limit ${pageSize}`
            .raw()
            .forEach((row) => {
              const [orderUid, body, ingestId] = row as unknown as [Buffer, Buffer, Buffer]
              page.push({ orderUid: orderUid.toString('latin1'), body: keep(body) })
              last = ingestId.toString('latin1')
            })
          if (page.length > 0) yield page
          if (page.length < pageSize) return
          before = last
        }
      }
    },

    async count(): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from orders`
      return row?.n ?? 0
    },
  }
}
