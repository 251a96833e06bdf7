import { ServiceError } from '../errors.js'
import type { Sql } from '../store/db.js'
import type { DeadLetterStore, RejectError, RejectReason } from '../store/dead-letters.js'
import type { OrderStore } from '../store/orders.js'
import type { OrderCacheWriter } from './batch-writer.js'
import type { GateCheck } from './gate.js'

export type ReplayResult =
  | { outcome: 'stored' | 'duplicate' }
  /** The gate still refuses it, or another order holds its order_uid (reason 'conflict'). */
  | { outcome: 'rejected'; reason: RejectReason; errors: readonly RejectError[] }
  | { outcome: 'not_found' }
  /** Only the first bytes were kept: what would be replayed is not what was sent. */
  | { outcome: 'truncated' }

export interface ReplayOptions {
  sql: Sql
  orders: Pick<OrderStore, 'insertMany'>
  deadLetters: Pick<DeadLetterStore, 'get' | 'markReplayed'>
  cache: OrderCacheWriter
  gate: GateCheck
}

const ID = /^[1-9][0-9]{0,17}$/

/**
 * POST /dead-letters/:id/replay: puts a dead letter through the gate again (after a schema fix) and, when it
 * passes, stores it the way the batch writer does. The dead letter stays, marked with the replay's outcome.
 */
export function createReplay(options: ReplayOptions) {
  const { sql, orders, deadLetters, cache, gate } = options

  return async function replayDeadLetter(id: string): Promise<ReplayResult> {
    const letter = ID.test(id) ? await deadLetters.get(id) : undefined
    if (letter === undefined) return { outcome: 'not_found' }
    if (letter.truncated) return { outcome: 'truncated' }

    const verdict = await gate(letter.payload)
    if (!verdict.ok) {
      await deadLetters.markReplayed(id, `rejected: ${verdict.reason}`)
      return { outcome: 'rejected', reason: verdict.reason, errors: verdict.errors }
    }
    const order = { orderUid: verdict.orderUid, json: verdict.json, brokerSeq: letter.broker_seq === null ? null : Number(letter.broker_seq) }
    const result = await sql.begin(async (tx) => {
      const [inserted] = await orders.insertMany([order], tx)
      if (inserted === undefined) throw new ServiceError('internal', 'insertMany returned no result for one order')
      const outcome = inserted.status === 'stored' ? 'stored' : inserted.identical ? 'duplicate' : 'rejected: conflict'
      await deadLetters.markReplayed(id, outcome, tx)
      return inserted
    })
    if (result.status === 'stored') {
      cache.set(result.orderUid, result.body)
      return { outcome: 'stored' }
    }
    if (result.identical) return { outcome: 'duplicate' }
    return { outcome: 'rejected', reason: 'conflict', errors: [{ path: '/order_uid', message: 'a different order with this order_uid is already stored' }] }
  }
}

export type ReplayDeadLetter = ReturnType<typeof createReplay>
