import { close, connect, publishAll } from '../../src/publisher/stan-publisher.js'
import type { Ledger, Outgoing } from './ledger.js'

export interface PublishTarget {
  url: string
  clusterId: string
  channel: string
}

export interface PublishOptions {
  /** Messages per second; unset publishes as fast as the broker acks. */
  rate?: number
}

/**
 * Publishes messages with node-nats-streaming on a connection of its own and records them in the ledger once the
 * broker acked every one. A publish the broker did not ack leaves the accounting unable to say what must exist,
 * so it fails the scenario: scenarios never publish while they are breaking the broker.
 */
export async function publish(target: PublishTarget, ledger: Ledger, messages: readonly Outgoing[], options: PublishOptions = {}): Promise<void> {
  if (messages.length === 0) return
  const connection = await connect({ servers: [target.url], clusterId: target.clusterId, clientId: `reliability-publisher-${process.pid}-${Date.now()}` })
  if (!connection.ok) throw new Error(`publisher could not connect: ${connection.error}`)
  try {
    const tally = await publishAll(
      connection.client,
      messages.map((message) => message.payload),
      { channel: target.channel, inFlight: 256, ...(options.rate !== undefined ? { rate: options.rate } : {}) },
    )
    // Recorded first: what the broker acked must be accounted for even if the check below fails.
    ledger.record(messages.slice(0, tally.acked === tally.published ? tally.published : 0))
    if (tally.failed > 0 || tally.acked !== messages.length) {
      throw new Error(`publisher: ${tally.acked} of ${messages.length} acked, ${tally.failed} failed (${[...tally.failures.keys()].join('; ')})`)
    }
  } finally {
    await close(connection)
  }
}
