/**
 * The whole contract between the service and a broker. A transport module (stan-subscription.ts,
 * and any other broker's) is the only place that imports that broker's client; the batch writer, the gate
 * and the rest of the service see only these two shapes.
 */

/** One delivery. `ack` never throws: an ack that cannot be sent means a redelivery later. */
export interface BrokerMessage {
  data: Buffer
  /**
   * The message's position in its channel or stream (dead letters record it). Unique within it, and the same
   * on a redelivery: the writer keeps a message redelivered while still pending once. (No redelivered flag: the
   * service handles a redelivery as any delivery, and the store absorbs it as a duplicate.)
   */
  sequence: number
  /** Where the message was first, when a tool copied it from another broker (see MessageOrigin). */
  origin?: MessageOrigin | undefined
  ack(): void
}

/**
 * The NATS Streaming channel and sequence a message was copied from: stan2js, NATS's tool that moves channels
 * to JetStream, puts them in the Nats-Streaming-Channel and Nats-Streaming-Sequence headers. Dead letters keep it.
 */
export interface MessageOrigin {
  channel: string
  sequence: number
}

/** A live, durable, manual-ack subscription that keeps itself alive across broker restarts and fail-overs. */
export interface BrokerSubscription {
  /** True while messages can arrive: connected and subscribed. */
  isLive(): boolean
  /** Stops taking messages and leaves without giving up the durable position, then closes the connection. */
  close(): Promise<void>
}

/** What a transport offers the composition root: start delivering to `onMessage`. */
export type OpenSubscription = (onMessage: (message: BrokerMessage) => void) => BrokerSubscription

/**
 * A broker as the configuration names it: what the service needs of it beyond the subscription. Each transport
 * module builds one from the configuration (stanTransport, jetStreamTransport); the composition root picks one.
 */
export interface Transport {
  /** Where its messages come from, as a dead letter records it: the NATS Streaming channel, or the JetStream stream. */
  origin: string
  /** The setting naming its servers: a tool run beside the service (src/reread.ts) needs it set. */
  serversSetting: 'STAN_URL' | 'NATS_URL'
  /**
   * Makes the broker side ready (JetStream: the stream and the consumer), waiting through a broker not up yet;
   * a broker that cannot serve as configured is a StartupError. Then `open` starts the subscription.
   */
  prepare(signal: AbortSignal | undefined): Promise<OpenSubscription>
  /**
   * The channel or stream read again from a point up to its last message, on a reader of its own (`name`), each
   * message acked once `onMessage`'s caller commits it: the re-read command's source (src/reread.ts).
   */
  reread(from: RereadFrom, name: string): ReadAll
}

/** Where a re-read starts: a moment, or a broker sequence. */
export type RereadFrom = { since: Date } | { sequence: number }

/** Delivers every message of a re-read; resolves with the last sequence once every one was acked. */
export type ReadAll = (onMessage: (message: BrokerMessage) => void) => Promise<{ last: number }>
