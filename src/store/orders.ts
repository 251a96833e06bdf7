import type { Queryable, Sql } from './db.js'

/** An order that passed the gate: its JSON text as received and where it came from. */
export interface NewOrder {
  orderUid: string
  /** The document's JSON text. PostgreSQL stores it as jsonb; what is served is jsonb's own text form. */
  json: string
  brokerSeq: number | null
}

/** What became of each order of a batch, in input order. */
export type InsertResult =
  | { orderUid: string; status: 'stored'; body: string }
  /** Already stored: identical means the same document (a duplicate), otherwise a conflict. */
  | { orderUid: string; status: 'existing'; identical: boolean }

export interface RecentOrder {
  order_uid: string
  date_created: string | null
  received_at: Date
  ingest_id: string
}

export interface StoredOrder {
  orderUid: string
  /** jsonb text form: the exact bytes served, stable across restarts. */
  body: string
}

export type OrderStore = ReturnType<typeof createOrderStore>

export function createOrderStore(sql: Sql) {
  return {
    /**
     * Inserts a batch in one statement. Orders never change: an order_uid already stored is left as it is,
     * and the result says whether the new document was identical to it. order_uids must be unique within the batch.
     */
    async insertMany(orders: readonly NewOrder[], tx: Queryable = sql): Promise<InsertResult[]> {
      if (orders.length === 0) return []
      // One jsonb array parameter: joining texts we already have is far cheaper than escaping an array literal.
      const docs = `[${orders.map((order) => order.json).join(',')}]`
      const seqs = orders.map((order) => order.brokerSeq)
      const rows = await tx<{ ord: string; order_uid: string; body: string | null; identical: boolean | null }[]>`
        with incoming as (
          select e.ord, e.doc ->> 'order_uid' as order_uid, e.doc, (${seqs}::bigint[])[e.ord] as broker_seq
          from jsonb_array_elements(${docs}::text::jsonb) with ordinality as e(doc, ord)
        ), inserted as (
          insert into orders (order_uid, doc, broker_seq)
          select order_uid, doc, broker_seq from incoming order by ord
          on conflict (order_uid) do nothing
          returning order_uid, doc::text as body
        )
        select i.ord, i.order_uid, ins.body, existing.doc = i.doc as identical
        from incoming i
        left join inserted ins on ins.order_uid = i.order_uid
        left join orders existing on existing.order_uid = i.order_uid and ins.order_uid is null
        order by i.ord`
      return rows.map((row): InsertResult =>
        row.body !== null
          ? { orderUid: row.order_uid, status: 'stored', body: row.body }
          : { orderUid: row.order_uid, status: 'existing', identical: row.identical === true },
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
        order by ingest_id desc
        limit ${options.limit}`
    },

    /** Every order, newest first, in pages: what the cache warms from until its budget is full. */
    async *newestFirst(pageSize = 2000): AsyncGenerator<StoredOrder[]> {
      const cursor = sql<{ order_uid: string; body: string }[]>`
        select order_uid, doc::text as body from orders order by ingest_id desc`.cursor(pageSize)
      for await (const rows of cursor) {
        yield rows.map((row) => ({ orderUid: row.order_uid, body: row.body }))
      }
    },

    async count(): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from orders`
      return row?.n ?? 0
    },
  }
}
