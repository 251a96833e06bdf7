import { generateOrder } from '../../src/publisher/generate-orders.js'
import { jsonbText } from '../../src/ingest/jsonb-text.js'
import type { NewOrder } from '../../src/store/orders.js'

export interface OrderSet {
  orders: NewOrder[]
  /** Sum of the JSON texts' UTF-8 sizes: the raw bytes the memory figures are compared with. */
  jsonBytes: number
}

/** `count` distinct orders from the shared generator (the publisher's), as the jsonb texts the gate passes on. */
export function orderSet(count: number, seed = 1): OrderSet {
  const orders = [...ordersBetween(0, count, seed)]
  return { orders, jsonBytes: orders.reduce((sum, order) => sum + Buffer.byteLength(order.json), 0) }
}

/**
 * A batch size: a number of rows, or a range `[min, max]` whose sizes come in a fixed scattered order (as the
 * batch writer's do when the channel cannot fill every batch: the last of a burst, a batch cut short by
 * BATCH_MAX_WAIT_MS).
 */
export type BatchSize = number | readonly [min: number, max: number]

/** Consecutive slices of `size` (the last one may be shorter). */
export function* batchesOf<T>(items: readonly T[], size: BatchSize): Generator<T[]> {
  const [min, max] = typeof size === 'number' ? [size, size] : size
  const span = max - min + 1
  for (let start = 0, i = 0; start < items.length; i++) {
    // 7919 is prime: steps through every size of the span before repeating one.
    const length = min + ((i * 7919) % span)
    yield items.slice(start, start + length)
    start += length
  }
}

/**
 * The orders with indexes `from` to `to - 1` of the stream from `seed`, generated one at a time (a million need
 * not be held in memory): the same orders orderSet(to, seed) holds at those places.
 */
export function* ordersBetween(from: number, to: number, seed = 1): Generator<NewOrder> {
  for (let index = from; index < to; index++) {
    const order = generateOrder(seed, index)
    yield { orderUid: order.order_uid, json: jsonbText(order), brokerSeq: index + 1 }
  }
}
