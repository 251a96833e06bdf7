import { ServiceError } from '../errors.js'
import type { Queryable, Transaction } from '../store/db.js'
import type { DeadLetter, DeadLetterStore } from '../store/dead-letters.js'
import type { OrderStore } from '../store/orders.js'
import { isRowId } from '../store/row-id.js'
import type { OrderCacheWriter } from './batch-writer.js'
import type { GateCheck } from './gate.js'
import type { JsonbText } from '../store/orders.js'
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

/** What one replay did: its result, and the order to cache once its transaction has committed. */
export interface Replayed {
  result: Exclude<ReplayResult, { outcome: 'not_found' }>
  stored?: { orderUid: string; body: JsonbText }
}

/**
 * The replay of one dead letter inside the caller's transaction: through the gate again (after a schema fix)
 * and, when it passes, stored through the batch writer's own step (store-verdicts.ts). The dead letter stays,
 * marked with the outcome in the same transaction. The single replay and the bulk re-drive (redrive.ts) both
 * come through here.
 */
export function createReplayStep(options: Omit<ReplayOptions, 'transaction' | 'cache'>) {
  const { deadLetters, gate } = options
  const storeVerdicts = createStoreVerdicts(options)

  return async function replayLetter(tx: Queryable, letter: DeadLetter): Promise<Replayed> {
    if (letter.truncated) return { result: { outcome: 'truncated' } }
    const verdict = await gate(letter.payload)
    if (!verdict.ok) {
      await deadLetters.markReplayed(letter.id, `rejected: ${verdict.reason}`, tx)
      return { result: { outcome: 'rejected', reason: verdict.reason, errors: verdict.errors } }
    }
    const origin = letter.origin_channel === null || letter.origin_seq === null ? undefined : { channel: letter.origin_channel, sequence: Number(letter.origin_seq) }
    const message = { data: letter.payload, sequence: letter.broker_seq === null ? null : Number(letter.broker_seq), origin, verdict }
    const [stored] = await storeVerdicts(tx, letter.channel, [message])
    if (stored === undefined) throw new ServiceError('internal', 'storeVerdicts returned no result for one message')
    // A conflict's dead letter is this one (same channel, sequence and bytes): already there.
    await deadLetters.markReplayed(letter.id, stored.outcome === 'stored' || stored.outcome === 'duplicate' ? stored.outcome : `rejected: ${stored.reason}`, tx)
    if (stored.outcome === 'stored') return { result: { outcome: 'stored' }, stored: { orderUid: stored.orderUid, body: stored.body } }
    if (stored.outcome === 'duplicate') return { result: { outcome: 'duplicate' } }
    return { result: { outcome: 'rejected', reason: stored.reason, errors: CONFLICT_ERRORS } }
  }
}

export type ReplayStep = ReturnType<typeof createReplayStep>

/** POST /dead-letters/:id/replay: one dead letter through the replay step, in a transaction of its own. */
export function createReplay(options: ReplayOptions) {
  const { transaction, deadLetters, cache } = options
  const replayLetter = createReplayStep(options)

  return async function replayDeadLetter(id: string): Promise<ReplayResult> {
    const letter = isRowId(id) ? await deadLetters.get(id) : undefined
    if (letter === undefined) return { outcome: 'not_found' }
    const { result, stored } = await transaction((tx) => replayLetter(tx, letter))
    if (stored !== undefined) cache.set(stored.orderUid, stored.body)
    return result
  }
}

export type ReplayDeadLetter = ReturnType<typeof createReplay>
