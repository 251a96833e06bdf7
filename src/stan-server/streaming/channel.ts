/** A channel: its store and the index of its subscriptions (the real server's channel + subStore). */
import type { ChannelStore, Store, StoredMessage } from '../store/types.js'
import { StanError } from './errors.js'
import { encodeMsgProto } from './protocol.js'
import { QueueGroup, type DeliveryCursor, type Subscription } from './subscription.js'

export class Channel {
  /** Plain subscriptions, online durables included. */
  plain: Subscription[] = []
  readonly queues = new Map<string, QueueGroup>()
  readonly durables = new Map<string, Subscription>()
  readonly byAckInbox = new Map<string, Subscription>()
  readonly byInbox = new Map<string, Subscription>()
  private nextSubId = 1
  private lastTimestamp = 0

  constructor(readonly store: ChannelStore) {}

  get name(): string {
    return this.store.name
  }

  newSubscriptionId(): number {
    return this.nextSubId++
  }

  /** A recovered subscription keeps its ID: new ones must come after it. */
  reserveSubscriptionId(id: number): void {
    if (id >= this.nextSubId) this.nextSubId = id + 1
  }

  /** Subscriptions counted against the per-channel limit: online ones, offline durables and durable queue groups. */
  subscriptionCount(): number {
    let count = this.byAckInbox.size
    for (const durable of this.durables.values()) if (durable.clientId === '') count++
    for (const group of this.queues.values()) if (group.shadow !== undefined) count++
    return count
  }

  /** Stores a published message with the next sequence; the data is copied into its encoding. */
  append(subject: string, reply: string, data: Uint8Array): StoredMessage {
    const log = this.store.messages
    const sequence = log.lastSequence + 1
    // Timestamps never go backwards within a channel, as the real server guarantees.
    let timestamp = Math.floor((performance.timeOrigin + performance.now()) * 1e6)
    if (timestamp < this.lastTimestamp) timestamp = this.lastTimestamp
    this.lastTimestamp = timestamp
    const message = { sequence, timestamp, bytes: encodeMsgProto(sequence, subject, reply, data, timestamp) }
    log.append(message)
    return message
  }

  /**
   * The next message to deliver at or after `sequence` for `cursor`. Skips over
   * messages dropped by limits, moving the cursor past them (as getNextMsg).
   */
  nextMessage(sequence: number, cursor: DeliveryCursor): StoredMessage | undefined {
    const log = this.store.messages
    const found = log.lookup(sequence)
    if (found !== undefined || sequence > log.lastSequence) return found
    if (sequence < log.firstSequence) {
      cursor.lastSent = log.firstSequence - 1
      return log.lookup(log.firstSequence)
    }
    return undefined
  }

  /** Indexes a subscription (a new one, or a member joining a queue group). */
  add(sub: Subscription): void {
    if (sub.qGroup !== '') {
      let group = this.queues.get(sub.qGroup)
      if (group === undefined) {
        group = new QueueGroup(sub.qGroup)
        this.queues.set(sub.qGroup, group)
      }
      this.byAckInbox.set(sub.ackInbox, sub)
      this.byInbox.set(sub.inbox, sub)
      group.members.push(sub)
      if (sub.lastSent > group.lastSent) group.lastSent = sub.lastSent
      sub.queue = group
      return
    }
    this.byAckInbox.set(sub.ackInbox, sub)
    this.byInbox.set(sub.inbox, sub)
    this.plain.push(sub)
    if (sub.durableName !== '') this.durables.set(sub.durableKey(), sub)
  }

  /** Re-indexes a resumed durable or a queue group's shadow rejoining. */
  readd(sub: Subscription): void {
    if (sub.durableName !== '' && sub.qGroup === '') this.plain.push(sub)
    this.byAckInbox.set(sub.ackInbox, sub)
    this.byInbox.set(sub.inbox, sub)
  }

  lookupForUnsubscribe(inbox: string): Subscription | undefined {
    return this.byAckInbox.get(inbox) ?? this.byInbox.get(inbox)
  }

  hasActiveSubscriptions(): boolean {
    if (this.plain.length > 0) return true
    for (const group of this.queues.values()) if (group.members.length > 0) return true
    return false
  }
}

/** All channels, created on first publish or subscription. */
export class Channels {
  private readonly channels = new Map<string, Channel>()
  /** By lower-case name: names that differ only in case are refused, as the real server's channelsLC. */
  private readonly byLowerCase = new Map<string, Channel>()

  constructor(private readonly store: Store) {}

  get(name: string): Channel | undefined {
    return this.channels.get(name)
  }

  /** The channel, created if new, no channel differs from it only in case, and the channel limit allows it; else the error text. */
  getOrCreate(name: string): Channel | string {
    const existing = this.channels.get(name)
    if (existing !== undefined) return existing
    const sameButCase = this.byLowerCase.get(name.toLowerCase())
    // The real server's wording (checkCase), misspelling included: clients may match on it.
    if (sameButCase !== undefined) {
      return `rejecting channel ${JSON.stringify(name)} because channel ${JSON.stringify(sameButCase.name)} alreay exists (different cases not allowed)`
    }
    const max = this.store.limits.maxChannels
    if (max > 0 && this.channels.size >= max) return StanError.TooManyChannels
    return this.restore(this.store.lookupChannel(name) ?? this.store.createChannel(name))
  }

  /** Indexes a channel the store already holds. */
  restore(store: ChannelStore): Channel {
    const channel = new Channel(store)
    this.channels.set(store.name, channel)
    this.byLowerCase.set(store.name.toLowerCase(), channel)
    return channel
  }

  all(): IterableIterator<Channel> {
    return this.channels.values()
  }
}
