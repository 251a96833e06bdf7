import type { BatchCommitted, BatchWriter } from './batch-writer.js'
import type { BrokerMessage } from './transport.js'

/** What a re-read did: every message read, and what the writer made of it. */
export interface RereadCount {
  read: number
  /** Orders the database did not have: what the re-read restored. */
  stored: number
  /** Orders already there (identical): what had survived. */
  alreadyStored: number
  deadLettered: number
  alreadyDeadLettered: number
}

/**
 * Feeds what `read` delivers through the batch writer (the gate, the idempotent inserts, the dead letters), and
 * counts its commits. Resolves once `read` has had every message acked, that is committed.
 */
export async function rereadThroughWriter(
  writer: Pick<BatchWriter, 'add' | 'events'>,
  read: (onMessage: (message: BrokerMessage) => void) => Promise<{ last: number }>,
): Promise<RereadCount> {
  const count: RereadCount = { read: 0, stored: 0, alreadyStored: 0, deadLettered: 0, alreadyDeadLettered: 0 }
  const committed = (batch: BatchCommitted) => {
    count.read += batch.messages
    count.stored += batch.stored
    count.alreadyStored += batch.duplicates
    count.deadLettered += batch.deadLettered
    count.alreadyDeadLettered += batch.alreadyDeadLettered
  }
  writer.events.on('committed', committed)
  try {
    await read((message) => writer.add(message))
    return count
  } finally {
    writer.events.off('committed', committed)
  }
}
