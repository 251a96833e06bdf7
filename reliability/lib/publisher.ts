import type { Ledger, Outgoing } from './ledger.js'
import type { ScenarioBroker, ServiceSettings } from './transport.js'

export interface PublishOptions {
  /** Messages per second; unset publishes as fast as the broker acks. */
  rate?: number
}

/**
 * Publishes messages through the broker's own publisher on a connection of its own and records them in the ledger
 * once the broker acked every one. A publish the broker did not ack leaves the accounting unable to say what must
 * exist, so it fails the scenario: scenarios never publish while they are breaking the broker.
 */
export async function publish(broker: ScenarioBroker, settings: ServiceSettings, ledger: Ledger, messages: readonly Outgoing[], options: PublishOptions = {}): Promise<void> {
  if (messages.length === 0) return
  const tally = await broker.publish(
    messages.map((message) => message.payload),
    settings,
    options.rate,
  )
  // Recorded first: what the broker acked must be accounted for even if the check below fails.
  ledger.record(messages.slice(0, tally.acked === tally.published ? tally.published : 0))
  if (tally.failed > 0 || tally.acked !== messages.length) {
    throw new Error(`publisher: ${tally.acked} of ${messages.length} acked, ${tally.failed} failed (${[...tally.failures.keys()].join('; ')})`)
  }
}
