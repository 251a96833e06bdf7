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
  ack(): void
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
