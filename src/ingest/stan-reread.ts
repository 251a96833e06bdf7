import { once } from 'node:events'
import stan, { type Message as StanMessage, type Stan } from 'node-nats-streaming'
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
const CONNECT_WAIT_MS = 5_000

/**
 * Delivers the channel's messages again, from `from` up to the last one the channel held when the re-read began,
 * through a subscription of its own (not durable, manual acks: the service's durable is left as it is). Resolves
 * once every one of them was acked, with the last sequence read (0: nothing to read).
 */
export async function rereadStanChannel(options: StanRereadOptions, onMessage: (message: BrokerMessage) => void): Promise<{ last: number }> {
  const connection = stan.connect(options.clusterId, options.clientId, { url: options.server, reconnect: false, maxReconnectAttempts: 0 })
  try {
    await within(once(connection, 'connect'), CONNECT_WAIT_MS, `no answer from ${options.server} within ${CONNECT_WAIT_MS} ms`)
    const last = await lastMessage(connection, options.channel)
    const nothing = last === undefined || ('sequence' in options.from ? options.from.sequence > last.sequence : options.from.since.getTime() > last.timestamp)
    if (nothing) return { last: 0 }
    await deliverUpTo(connection, options, last.sequence, onMessage)
    return { last: last.sequence }
  } finally {
    const closed = once(connection, 'close').catch(() => undefined)
    connection.close()
    await within(closed, CONNECT_WAIT_MS, 'close').catch(() => undefined)
  }
}

/** The channel's last message now, or undefined when it holds none. */
async function lastMessage(connection: Stan, channel: string): Promise<{ sequence: number; timestamp: number } | undefined> {
  const probe = connection.subscribe(channel, connection.subscriptionOptions().setStartWithLastReceived())
  try {
    const [message] = (await within(once(probe, 'message'), LAST_MESSAGE_WAIT_MS, 'empty').catch(() => [undefined])) as [StanMessage | undefined]
    return message === undefined ? undefined : { sequence: message.getSequence(), timestamp: message.getTimestamp().getTime() }
  } finally {
    probe.unsubscribe()
  }
}

function deliverUpTo(connection: Stan, options: StanRereadOptions, last: number, onMessage: (message: BrokerMessage) => void): Promise<void> {
  const start = connection.subscriptionOptions().setManualAckMode(true).setMaxInFlight(options.maxInFlight).setAckWait(options.ackWaitMs)
  if ('sequence' in options.from) start.setStartAtSequence(options.from.sequence)
  else start.setStartTime(options.from.since)
  const subscription = connection.subscribe(options.channel, start)
  /** Delivered and not yet acked, by sequence; messages arrive in order, so `last` seen and none pending is the end. */
  const pending = new Set<number>()
  let seenLast = false
  return new Promise<void>((resolve, reject) => {
    const finishIfDone = () => {
      if (!seenLast || pending.size > 0) return
      subscription.unsubscribe()
      resolve()
    }
    subscription.on('error', reject)
    connection.on('connection_lost', reject)
    subscription.on('message', (message: StanMessage) => {
      const sequence = message.getSequence()
      if (sequence > last) {
        // Published after the re-read began: the service's own subscription takes it.
        message.ack()
        return
      }
      if (sequence === last) seenLast = true
      if (pending.has(sequence)) return // a redelivery of one still being written
      pending.add(sequence)
      onMessage({
        data: message.getRawData(),
        sequence,
        ack: () => {
          message.ack()
          pending.delete(sequence)
          finishIfDone()
        },
      })
    })
  })
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, () => {
    throw new Error(what)
  })
}
