import { CONNECT_TIMEOUT_MS, connectStan, PINGS, type StanConnection } from './stan-client.js'
import type { BrokerMessage, RereadFrom } from './transport.js'
import { withTimeout } from '../timeout.js'

export interface StanRereadOptions {
  server: string
  clusterId: string
  /** Its own client id: never the service's, which the broker would take for a restart of that instance. */
  clientId: string
  channel: string
  from: RereadFrom
  maxInFlight: number
  ackWaitMs: number
}

/** How long the channel's last message may take to come: an empty channel sends none. */
const LAST_MESSAGE_WAIT_MS = 2_000
/** Each request to the broker after the connect: subscribe, unsubscribe, close. */
const REQUEST_TIMEOUT_MS = 5_000

/**
 * Delivers the channel's messages again, from `from` up to the last one the channel held when the re-read began,
 * through a subscription of its own (not durable, manual acks: the service's durable is left as it is), on the
 * service's own client (stan-client.ts). Resolves once every one of them was acked, with the last sequence read
 * (0: nothing to read).
 */
export async function rereadStanChannel(options: StanRereadOptions, onMessage: (message: BrokerMessage) => void): Promise<{ last: number }> {
  const opened = await connectStan({
    server: options.server,
    clusterId: options.clusterId,
    clientId: options.clientId,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    pings: PINGS,
  })
  if (!opened.ok) throw new Error(`${options.server}: ${opened.reason}`)
  const connection = opened.connection
  try {
    const last = await lastMessage(connection, options.channel)
    const nothing = last === undefined || ('sequence' in options.from ? options.from.sequence > last.sequence : options.from.since.getTime() > last.timestamp)
    if (nothing) return { last: 0 }
    await deliverUpTo(connection, options, last.sequence, onMessage)
    return { last: last.sequence }
  } finally {
    await connection.close()
  }
}

/** The channel's last message now (its timestamp in ms), or undefined when it holds none. */
async function lastMessage(connection: StanConnection, channel: string): Promise<{ sequence: number; timestamp: number } | undefined> {
  let found!: (message: { sequence: number; timestamp: number }) => void
  const first = new Promise<{ sequence: number; timestamp: number }>((resolve) => (found = resolve))
  const probe = await connection.subscribe({ channel, durableName: '', maxInFlight: 1, ackWaitMs: 1_000, start: 'last' }, (message) =>
    found({ sequence: message.sequence, timestamp: message.timestamp / 1_000_000 }),
  )
  if (!probe.ok) throw new Error(`the last message of ${channel}: ${probe.reason}`)
  try {
    return await withTimeout(first, LAST_MESSAGE_WAIT_MS, () => undefined)
  } finally {
    await probe.subscription.unsubscribe()
  }
}

async function deliverUpTo(connection: StanConnection, options: StanRereadOptions, last: number, onMessage: (message: BrokerMessage) => void): Promise<void> {
  /** Delivered and not yet acked, by sequence; messages arrive in order, so `last` seen and none pending is the end. */
  const pending = new Set<number>()
  let seenLast = false
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  const finishIfDone = () => {
    if (seenLast && pending.size === 0) finished()
  }
  const subscribed = await connection.subscribe(
    { channel: options.channel, durableName: '', maxInFlight: options.maxInFlight, ackWaitMs: options.ackWaitMs, start: options.from },
    (message, subscription) => {
      const sequence = message.sequence
      if (sequence > last) {
        // Published after the re-read began: the service's own subscription takes it.
        subscription.ack(sequence)
        return
      }
      if (sequence === last) seenLast = true
      if (pending.has(sequence)) return // a redelivery of one still being written
      pending.add(sequence)
      onMessage({
        data: message.data,
        sequence,
        ack: () => {
          subscription.ack(sequence)
          pending.delete(sequence)
          finishIfDone()
        },
      })
    },
  )
  if (!subscribed.ok) throw new Error(`re-reading ${options.channel}: ${subscribed.reason}`)
  const lost = connection.lost.then((reason) => Promise.reject(new Error(`re-reading ${options.channel}: ${reason}`)))
  try {
    await Promise.race([done, lost])
  } finally {
    await subscribed.subscription.unsubscribe()
  }
}
