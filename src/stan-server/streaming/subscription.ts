/** Subscription and queue group state, as the real server's subState and queueState. */
import type { Subscription as NatsSubscription } from '../nats/server.js'
import type { ChannelStore, StoredMessage, SubscriptionRecord } from '../store/types.js'

/** Where delivery continues: a plain subscription or a queue group. */
export interface DeliveryCursor {
  lastSent: number
}

/**
 * What a subscription and its delivery need of the channel it is on (channel.ts's Channel, which holds the
 * subscriptions: it imports this file, so this file names only what it uses of it).
 */
export interface SubscribedChannel {
  readonly name: string
  readonly store: ChannelStore
  /** The next message to deliver at or after `sequence` for `cursor`, skipping those dropped by limits. */
  nextMessage(sequence: number, cursor: DeliveryCursor): StoredMessage | undefined
}

export class Subscription implements SubscriptionRecord, DeliveryCursor {
  /** '' while the subscription is offline (a closed durable, or a durable queue group's shadow). */
  clientId: string
  /** The owner's client ID while offline (the real server's savedClientID), reported by monitoring. */
  savedClientId = ''
  qGroup: string
  inbox: string
  ackInbox: string
  durableName: string
  maxInFlight: number
  ackWaitInSecs: number
  lastSent = 0
  isDurable: boolean
  isClosed = false

  /**
   * Sequence -> expiry time (ms). Insertion order is send order, and a redelivery
   * moves its entry to the end, so the map is also ordered by expiry: the ack-wait
   * sweep reads it from the front.
   */
  pending = new Map<number, number>()
  /** Redelivery counts of a plain subscription (a queue group keeps its own). */
  redeliveries: Map<number, number> | undefined
  stalled = false
  /** False until the SubscriptionResponse is sent: nothing is delivered before. */
  initialized = false
  /** A resumed durable with pending messages holds new ones until those are redelivered. */
  newOnHold = false
  /** Set while the client misses heartbeats: its expired messages wait. */
  hasFailedHeartbeat = false
  queue: QueueGroup | undefined
  ackSubscription: NatsSubscription | undefined
  ackTimer: NodeJS.Timeout | undefined

  constructor(
    readonly id: number,
    readonly channel: SubscribedChannel,
    fields: Pick<SubscriptionRecord, 'clientId' | 'qGroup' | 'inbox' | 'ackInbox' | 'durableName' | 'maxInFlight' | 'ackWaitInSecs' | 'isDurable'>,
  ) {
    this.clientId = fields.clientId
    this.qGroup = fields.qGroup
    this.inbox = fields.inbox
    this.ackInbox = fields.ackInbox
    this.durableName = fields.durableName
    this.maxInFlight = fields.maxInFlight
    this.ackWaitInSecs = fields.ackWaitInSecs
    this.isDurable = fields.isDurable
  }

  get subject(): string {
    return this.channel.name
  }

  get ackWaitMs(): number {
    return this.ackWaitInSecs * 1000
  }

  /** Key of a durable (non queue) subscription; '' otherwise. */
  durableKey(clientId = this.clientId): string {
    return this.durableName === '' ? '' : durableKey(clientId, this.subject, this.durableName)
  }

  stopAckSubscription(): void {
    this.ackSubscription?.unsubscribe()
    this.ackSubscription = undefined
  }

  clearAckTimer(): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer)
    this.ackTimer = undefined
  }
}

export function durableKey(clientId: string, subject: string, durableName: string): string {
  return `${clientId}-${subject}-${durableName}`
}

export class QueueGroup implements DeliveryCursor {
  members: Subscription[] = []
  lastSent = 0
  stalledMembers = 0
  /** The last member of a durable group to leave, keeping the group's state until one rejoins. */
  shadow: Subscription | undefined
  newOnHold = false
  readonly redeliveries = new Map<number, number>()

  constructor(readonly name: string) {}

  /** The member with the fewest unacknowledged messages, favouring healthy ones; rotates on ties with the head. */
  pickMember(): Subscription | undefined {
    const members = this.members
    let best: Subscription | undefined
    let least = Number.MAX_SAFE_INTEGER
    for (const sub of members) {
      if (!sub.stalled && !sub.hasFailedHeartbeat && sub.pending.size < least) {
        least = sub.pending.size
        best = sub
      }
    }
    const n = members.length
    if (best === undefined && n > 0) best = members[0]
    if (n > 1 && best === members[0]) {
      members.copyWithin(0, 1)
      members[n - 1] = best!
    }
    return best
  }
}
