import { ServiceError } from '../errors.js'
import type { Transaction } from '../store/db.js'
import type { DeadLetterStore } from '../store/dead-letters.js'
import type { OrderStore } from '../store/orders.js'
import type { OrderCacheWriter } from './batch-writer.js'
import type { GateCheck } from './gate.js'
import { createStoreVerdicts } from './store-verdicts.js'
import { CONFLICT_ERRORS, type RejectError, type RejectReason } from './verdict.js'

export type ReplayResult =
  | { outcome: 'stored' | 'duplicate' }
  /** The gate still refuses it, or another order holds its order_uid (reason 'conflict'). */
  | { outcome: 'rejected'; reason: RejectReason; errors: readonly RejectError[] }
  | { outcome: 'not_found' }
  /** Only the first bytes were kept: what would be replayed is not what was sent. */
  | { outcome: 'truncated' }

export interface ReplayOptions {
  /** The replay's transaction: the service's bounded pool's. */
  transaction: Transaction
  orders: Pick<OrderStore, 'insertMany'>
  deadLetters: Pick<DeadLetterStore, 'get' | 'markReplayed' | 'insertMany'>
  cache: OrderCacheWriter
  gate: GateCheck
}

const ID = /^[1-9][0-9]{0,17}$/

/**
 * POST /dead-letters/:id/replay: puts a dead letter through the gate again (after a schema fix) and, when it
 * passes, stores it through the batch writer's own step (store-verdicts.ts). The dead letter stays, marked with
 * the replay's outcome in the same transaction.
 */
export function createReplay(options: ReplayOptions) {
  const { transaction, deadLetters, cache, gate } = options
  const storeVerdicts = createStoreVerdicts(options)

  return async function replayDeadLetter(id: string): Promise<ReplayResult> {
    const letter = ID.test(id) ? await deadLetters.get(id) : undefined
    if (letter === undefined) return { outcome: 'not_found' }
    if (letter.truncated) return { outcome: 'truncated' }

    const verdict = await gate(letter.payload)
    if (!verdict.ok) {
      await deadLetters.markReplayed(id, `rejected: ${verdict.reason}`)
      return { outcome: 'rejected', reason: verdict.reason, errors: verdict.errors }
    }
    const message = { data: letter.payload, sequence: letter.broker_seq === null ? null : Number(letter.broker_seq), verdict }
    const result = await transaction(async (tx) => {
      const [stored] = await storeVerdicts(tx, letter.channel, [message])
      if (stored === undefined) throw new ServiceError('internal', 'storeVerdicts returned no result for one message')
      // A conflict's dead letter is this one (same channel, sequence and bytes): already there.
      await deadLetters.markReplayed(id, stored.outcome === 'stored' || stored.outcome === 'duplicate' ? stored.outcome : `rejected: ${stored.reason}`, tx)
      return stored
    })
    if (result.outcome === 'stored') {
      cache.set(result.orderUid, result.body)
      return { outcome: 'stored' }
    }
    if (result.outcome === 'duplicate') return { outcome: 'duplicate' }
    return { outcome: 'rejected', reason: result.reason, errors: CONFLICT_ERRORS }
  }
}

export type ReplayDeadLetter = ReturnType<typeof createReplay>
