/**
 * In-memory store: messages live in an array per channel; subscription and client
 * records are kept by the server itself, so their logs are no-ops here.
 */
import { DEFAULT_LIMITS, overLimits, type StoreLimits } from './limits.js'
import type {
  ChannelStore,
  ClientRecord,
  MessageLog,
  RecoveredState,
  Store,
  StoredMessage,
  SubscriptionLog,
  SubscriptionRecord,
} from './types.js'

export class MemoryMessageLog implements MessageLog {
  // messages[head] has sequence firstSequence; the head index lets limits drop the oldest in O(1).
  private messages: Array<StoredMessage | undefined> = []
  private head = 0
  private bytes = 0
  firstSequence = 0
  lastSequence = 0

  constructor(private readonly limits: StoreLimits = DEFAULT_LIMITS) {}

  get count(): number {
    return this.messages.length - this.head
  }

  get totalBytes(): number {
    return this.bytes
  }

  append(message: StoredMessage): void {
    if (this.lastSequence !== 0 && message.sequence !== this.lastSequence + 1) {
      throw new Error(`out of order append: ${message.sequence} after ${this.lastSequence}`)
    }
    if (this.firstSequence === 0) this.firstSequence = message.sequence
    this.messages.push(message)
    this.lastSequence = message.sequence
    this.bytes += message.bytes.length
    while (overLimits(this.limits, this.count, this.bytes)) this.dropFirst()
  }

  lookup(sequence: number): StoredMessage | undefined {
    if (sequence < this.firstSequence || sequence > this.lastSequence) return undefined
    return this.messages[this.head + sequence - this.firstSequence]
  }

  sequenceAtOrAfter(timestamp: number): number {
    if (this.firstSequence === 0) return 0
    let lo = this.head
    let hi = this.messages.length
    // Binary search for the first message with timestamp >= the given one (timestamps never decrease).
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.messages[mid]!.timestamp < timestamp) lo = mid + 1
      else hi = mid
    }
    return this.firstSequence + (lo - this.head)
  }

  private dropFirst(): void {
    this.bytes -= this.messages[this.head]!.bytes.length
    this.messages[this.head++] = undefined
    this.firstSequence++
    // Reclaim the dropped slots once they are half the array.
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head)
      this.head = 0
    }
  }
}

const noSubscriptionLog: SubscriptionLog = {
  create(_sub: SubscriptionRecord) {},
  update(_sub: SubscriptionRecord) {},
  delete(_subId: number) {},
  addPending(_subId: number, _sequence: number) {},
  ackPending(_subId: number, _sequence: number) {},
}

export class MemoryStore implements Store {
  readonly kind = 'memory'
  private readonly channels = new Map<string, ChannelStore>()

  constructor(readonly limits: StoreLimits = DEFAULT_LIMITS) {}

  recover(): RecoveredState {
    return { clients: [], channels: [] }
  }

  lookupChannel(name: string): ChannelStore | undefined {
    return this.channels.get(name)
  }

  createChannel(name: string): ChannelStore {
    const channel: ChannelStore = { name, messages: new MemoryMessageLog(this.limits), subscriptions: noSubscriptionLog }
    this.channels.set(name, channel)
    return channel
  }

  addClient(_client: ClientRecord): void {}

  deleteClient(_clientId: string): void {}

  flush(): undefined {
    return undefined
  }

  async close(): Promise<void> {
    this.channels.clear()
  }
}
