/**
 * What the streaming server needs from storage (memory-store.ts, file-store.ts).
 *
 * Calls are synchronous and buffered; `flush()` makes everything appended so far
 * durable. It returns undefined when there is nothing to wait for (memory), so the
 * hot path stays synchronous.
 */

/** A message as stored: `bytes` is its MsgProto encoding, delivered as is. */
import type { StoreLimits } from './limits.js'

export interface StoredMessage {
  readonly sequence: number
  /** Nanoseconds since the epoch, as the real server stamps messages. */
  readonly timestamp: number
  readonly bytes: Buffer
}

export interface MessageLog {
  /** 0 when no message was ever stored. */
  readonly firstSequence: number
  /** 0 when no message was ever stored. */
  readonly lastSequence: number
  readonly count: number
  readonly totalBytes: number
  append(message: StoredMessage): void
  lookup(sequence: number): StoredMessage | undefined
  /**
   * Sequence of the first message stamped at or after `timestamp`;
   * lastSequence + 1 when all are older, 0 when the log is empty.
   */
  sequenceAtOrAfter(timestamp: number): number
}

/** A subscription's durable state, as the real server's spb.SubState. */
export interface SubscriptionRecord {
  readonly id: number
  clientId: string
  qGroup: string
  inbox: string
  ackInbox: string
  durableName: string
  maxInFlight: number
  ackWaitInSecs: number
  lastSent: number
  isDurable: boolean
  isClosed: boolean
}

export interface SubscriptionLog {
  create(sub: SubscriptionRecord): void
  update(sub: SubscriptionRecord): void
  delete(subId: number): void
  addPending(subId: number, sequence: number): void
  ackPending(subId: number, sequence: number): void
}

export interface ChannelStore {
  readonly name: string
  readonly messages: MessageLog
  readonly subscriptions: SubscriptionLog
}

export interface ClientRecord {
  readonly id: string
  readonly hbInbox: string
  /** The connection ID as a latin1 string: publishes and pings of a reconnected client carry it. */
  readonly connId: string
}

export interface RecoveredSubscription {
  readonly record: SubscriptionRecord
  /** Unacknowledged sequences, ascending. */
  readonly pending: readonly number[]
}

/** What a store held when it was opened; empty for the memory store. */
export interface RecoveredState {
  readonly clients: readonly ClientRecord[]
  readonly channels: ReadonlyArray<{ readonly channel: ChannelStore; readonly subscriptions: readonly RecoveredSubscription[] }>
}

export interface Store {
  readonly kind: 'memory' | 'file'
  readonly limits: StoreLimits
  recover(): RecoveredState
  lookupChannel(name: string): ChannelStore | undefined
  createChannel(name: string): ChannelStore
  addClient(client: ClientRecord): void
  deleteClient(clientId: string): void
  flush(): Promise<void> | undefined
  close(): Promise<void>
}
