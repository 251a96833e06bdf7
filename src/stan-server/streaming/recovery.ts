/**
 * Rebuilds the server's state from what the store recovered (the real server's
 * recoverState): clients, channels, subscriptions with their unacknowledged
 * messages; then resumes delivery to the subscriptions that are still online.
 */
import type { RecoveredState } from '../store/types.js'
import type { Acks } from './acks.js'
import type { Channels } from './channel.js'
import type { Connections } from './connections.js'
import type { Delivery } from './delivery.js'
import type { Subscription } from './subscription.js'
import type { Subscriptions } from './subscriptions.js'

export function restoreState(
  state: RecoveredState,
  parts: { channels: Channels; connections: Connections; subscriptions: Subscriptions; delivery: Delivery; acks: Acks },
): void {
  for (const client of state.clients) parts.connections.restore(client)
  const online: Subscription[] = []
  for (const { channel: store, subscriptions } of state.channels) {
    const channel = parts.channels.restore(store)
    for (const recovered of subscriptions) {
      const sub = parts.subscriptions.restore(channel, recovered)
      if (sub !== undefined) online.push(sub)
    }
  }
  for (const sub of online) {
    if (sub.pending.size > 0) parts.acks.redeliverExpired(sub, true)
    if (sub.queue !== undefined) parts.delivery.sendAvailableToQueue(sub.channel, sub.queue)
    else parts.delivery.sendAvailable(sub)
  }
}
