import type { Queryable } from '../store/db.js'
import type { JsonbText } from '../store/orders.js'
import type { DeadLetterStore, NewDeadLetter } from '../store/dead-letters.js'
import type { NewOrder, OrderStore } from '../store/orders.js'
import type { MessageOrigin } from './transport.js'
import { CONFLICT_ERRORS, type RejectReason, type Verdict } from './verdict.js'

/** A message with its verdict: what the writer holds, and what the replay rebuilds from a dead letter. */
export interface JudgedMessage {
  data: Uint8Array
  /** Its position in the channel; null for a dead letter stored without one. */
  sequence: number | null
  /** Where a copied message was first (transport.ts); kept with its dead letter. */
  origin?: MessageOrigin | undefined
  verdict: Verdict
}

/** What the transaction did with one message (see MessageOutcome). */
export type Stored =
  /** A new order: `body` goes to the cache once the transaction has committed. */
  | { outcome: 'stored'; orderUid: string; body: JsonbText }
  /**
   * The same order was stored already: by another instance, or by this one in an attempt whose commit answer was
   * lost (a frozen connection, a fail-over), which then never cached it. `body` is the stored text, the same.
   */
  | { outcome: 'duplicate'; orderUid: string; body: JsonbText }
  | { outcome: 'dead_lettered' | 'already_dead_lettered'; reason: RejectReason }

export interface StoreVerdictsOptions {
  orders: Pick<OrderStore, 'insertMany'>
  deadLetters: Pick<DeadLetterStore, 'insertMany'>
}

/**
 * The one step that writes verdicts, inside the caller's transaction, for the batch writer and the replay alike:
 * the orders first, then the dead letters (rejects, and conflicts: a different order under an order_uid already
 * stored). Returns what became of each message, in input order. order_uids of accepted messages must be unique.
 */
export function createStoreVerdicts({ orders, deadLetters }: StoreVerdictsOptions) {
  return async function storeVerdicts(tx: Queryable, channel: string, messages: readonly JudgedMessage[]): Promise<Stored[]> {
    const incoming: NewOrder[] = []
    /** Index in `messages` of each order in `incoming`, and of each letter in `letters`. */
    const orderAt: number[] = []
    const letters: NewDeadLetter[] = []
    const letterAt: number[] = []
    const deadLetter = (message: JudgedMessage, reason: RejectReason, errors: NewDeadLetter['errors'], orderUid: string | undefined): NewDeadLetter => ({
      channel,
      brokerSeq: message.sequence,
      reason,
      errors,
      orderUid: orderUid ?? null,
      payload: message.data,
      origin: message.origin ?? null,
    })
    messages.forEach((message, i) => {
      const verdict = message.verdict
      if (verdict.ok) {
        incoming.push({ orderUid: verdict.orderUid, json: verdict.json, brokerSeq: message.sequence })
        orderAt.push(i)
      } else {
        letters.push(deadLetter(message, verdict.reason, verdict.errors, verdict.orderUid))
        letterAt.push(i)
      }
    })

    const results = new Array<Stored>(messages.length)
    const inserted = await orders.insertMany(incoming, tx)
    inserted.forEach((result, j) => {
      const i = orderAt[j]!
      if (result.status === 'stored') results[i] = { outcome: 'stored', orderUid: result.orderUid, body: result.body }
      else if (result.identical) results[i] = { outcome: 'duplicate', orderUid: result.orderUid, body: incoming[j]!.json }
      else {
        letters.push(deadLetter(messages[i]!, 'conflict', CONFLICT_ERRORS, result.orderUid))
        letterAt.push(i)
      }
    })
    const written = await deadLetters.insertMany(letters, tx)
    letters.forEach((letter, k) => {
      results[letterAt[k]!] = { outcome: written[k] ? 'dead_lettered' : 'already_dead_lettered', reason: letter.reason }
    })
    return results
  }
}

export type StoreVerdicts = ReturnType<typeof createStoreVerdicts>
