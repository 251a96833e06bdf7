import type { Handler } from 'hono'
import type { OrderStore } from '../../store/orders.js'
import type { AppEnv } from '../node-request.js'
import { parsePageQuery } from '../validation.js'

/** GET /orders?limit=&before= : the newest orders' ids and dates, for the page's recent list. */
export function ordersRoute(orders: Pick<OrderStore, 'recent'>): Handler<AppEnv> {
  return async (c) => {
    const { limit, before } = parsePageQuery(c.req.url, c.req.query())
    const rows = await orders.recent({ limit, before })
    const last = rows.at(-1)
    return c.json({
      orders: rows.map((row) => ({ order_uid: row.order_uid, date_created: row.date_created, received_at: row.received_at })),
      next: rows.length === limit && last !== undefined ? last.ingest_id : null,
    })
  }
}
