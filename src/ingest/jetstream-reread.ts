import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { BrokerMessage, RereadFrom } from './transport.js'

export interface JetStreamRereadOptions {
  servers: readonly string[]
  stream: string
  subject: string
  from: RereadFrom
  /** Messages handed on and not yet acked at most: the reading waits for acks beyond it. */
  maxInFlight: number
  /** Client name, as the server's monitoring shows it. */
  name: string
}

/**
 * Delivers the stream's messages on `subject` again, from `from` up to the last one the stream held when the
 * re-read began, through an ordered consumer of its own (ephemeral, no acks on the server: the service's durable
 * consumer is left as it is). Resolves once every one of them was acked by `onMessage`'s reader, with the last
 * sequence read (0: nothing to read).
 */
export async function rereadJetStream(options: JetStreamRereadOptions, onMessage: (message: BrokerMessage) => void): Promise<{ last: number }> {
  const nc = await connect({ servers: [...options.servers], name: options.name })
  try {
    const { state } = await (await jetstreamManager(nc)).streams.info(options.stream)
    const last = state.last_seq
    const { from } = options
    if (state.messages === 0 || ('sequence' in from ? from.sequence > last : from.since.getTime() > Date.parse(state.last_ts))) return { last: 0 }
    const consumer = await jetstream(nc).consumers.get(options.stream, {
      filter_subjects: options.subject,
      ...('sequence' in from
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.sequence }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.since.toISOString() }),
    })
    const messages = await consumer.consume({ max_messages: options.maxInFlight })
    /** Handed on and not yet acked; `acked` wakes whoever waits for room or for the end. */
    const pending = new Set<number>()
    let acked: () => void = () => {}
    const nextAck = () => new Promise<void>((resolve) => (acked = resolve))
    let read = 0
    for await (const message of messages) {
      const sequence = message.seq
      if (sequence > last) break // published after the re-read began: the service's consumer takes it
      pending.add(sequence)
      read = sequence
      onMessage({
        data: Buffer.from(message.data),
        sequence,
        ack: () => {
          pending.delete(sequence)
          acked()
        },
      })
      // The last message, or the last on this subject for now (a later sequence may be another subject's).
      if (sequence >= last || message.info.pending === 0) break
      while (pending.size >= options.maxInFlight) await nextAck()
    }
    messages.stop()
    while (pending.size > 0) await nextAck()
    return { last: read }
  } finally {
    await nc.close()
  }
}
