import type { JsonbText } from '../store/orders.js'

/**
 * Ingest's vocabulary: what is decided about a message taken from the channel, and what became of it. The gate
 * and the writer decide; the store keeps dead letters in these terms (src/store/dead-letters.ts).
 */

/** Why a message was refused: the machine-readable part of a dead letter. */
export type RejectReason = 'empty' | 'too_large' | 'not_utf8' | 'not_json' | 'schema' | 'conflict' | 'unstorable'

/** The reasons the gate gives; `conflict` and `unstorable` are found only by writing. */
export type GateReason = Extract<RejectReason, 'empty' | 'too_large' | 'not_utf8' | 'not_json' | 'schema'>

export interface RejectError {
  /** JSON pointer into the document ('' for the whole message). */
  path: string
  message: string
}

/**
 * What is decided about a message: an order to store, or a reject. `json` is the order in jsonb's text form, what
 * is stored, cached and served (see jsonb-text.ts): a string from the gate, its UTF-8 bytes from the gate thread. A reject carries `orderUid` when the message names one in the
 * safe alphabet, to show next to the dead letter. The gate gives only its own reasons (`Verdict<GateReason>`);
 * the writer may turn a verdict into `unstorable`.
 */
export type Verdict<R extends RejectReason = RejectReason, J extends JsonbText = JsonbText> =
  | { ok: true; orderUid: string; json: J }
  | { ok: false; reason: R; errors: readonly RejectError[]; orderUid?: string | undefined }

/** The errors of a `conflict`. */
export const CONFLICT_ERRORS: readonly RejectError[] = [{ path: '/order_uid', message: 'a different order with this order_uid is already stored' }]

/**
 * What a committed transaction did with a message: `stored` (a new order row), `duplicate` (the same order was
 * stored already), `dead_lettered` (a new dead-letter row), `already_dead_lettered` (that message's dead letter
 * was stored already: a redelivery absorbed). The labels of order_messages_total (src/metrics.ts).
 */
export type MessageOutcome = 'stored' | 'duplicate' | 'dead_lettered' | 'already_dead_lettered'
