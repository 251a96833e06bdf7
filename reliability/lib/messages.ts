import { generateOrder } from '../../src/publisher/generate-orders.js'
import { hostileMessages } from '../../src/publisher/hostile-messages.js'
import type { Outgoing } from './ledger.js'

export interface MixOptions {
  seed: number
  /** Orders generateOrder(seed, first … first + valid - 1): distinct ranges never share an order_uid. */
  first: number
  valid: number
  hostile: number
  maxMessageBytes: number
}

/** A new valid order, expected stored as published. */
export function validOrder(seed: number, index: number): Outgoing {
  const order = generateOrder(seed, index)
  const json = JSON.stringify(order)
  return { payload: Buffer.from(json), expect: { kind: 'order', orderUid: order.order_uid, json } }
}

/**
 * Valid orders with hostile messages spread evenly among them (every kind of hostileMessages, cycling),
 * each with what the service must make of it.
 */
export function mixedMessages(options: MixOptions): Outgoing[] {
  const valid = Array.from({ length: options.valid }, (_, i) => validOrder(options.seed, options.first + i))
  const hostile = [...hostileMessages(options.hostile, options.seed + options.first, { maxMessageBytes: options.maxMessageBytes })].map(
    (message): Outgoing => ({ payload: message.payload, expect: { kind: 'rejected', reason: message.expectedReason, label: message.kind } }),
  )
  const total = valid.length + hostile.length
  const out: Outgoing[] = []
  let v = 0
  let h = 0
  for (let position = 0; position < total; position++) {
    const hostileDue = h < hostile.length && Math.floor(((position + 1) * hostile.length) / total) > h
    out.push((hostileDue ? hostile[h++] : valid[v++]) as Outgoing)
  }
  return out
}

/** The same orders published again, byte for byte: absorbed as duplicates. */
export function republished(messages: readonly Outgoing[]): Outgoing[] {
  return messages.flatMap((message) =>
    message.expect.kind === 'order' ? [{ payload: message.payload, expect: { kind: 'duplicate', orderUid: message.expect.orderUid } } satisfies Outgoing] : [],
  )
}

/** The same order_uid with one field changed: a conflict, the stored order unchanged. */
export function conflicting(messages: readonly Outgoing[]): Outgoing[] {
  return messages.flatMap((message) => {
    if (message.expect.kind !== 'order') return []
    const order = JSON.parse(message.expect.json) as { payment: { amount: number } }
    order.payment.amount += 1
    return [{ payload: Buffer.from(JSON.stringify(order)), expect: { kind: 'conflict', orderUid: message.expect.orderUid } } satisfies Outgoing]
  })
}
