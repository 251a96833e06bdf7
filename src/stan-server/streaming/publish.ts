/**
 * Published messages (the real server's processClientPublish and ioLoop): each PubMsg
 * is validated and stored as it arrives; at the end of the current I/O callback the
 * batch is flushed to the store, delivered to subscribers, and only then acked to
 * its publishers, so a PubAck always means "stored".
 */
import type { InboundMessage, NatsServer } from '../nats/server.js'
import type { Store } from '../store/types.js'
import type { Channel, Channels } from './channel.js'
import type { ClientRegistry } from './clients.js'
import type { Delivery } from './delivery.js'
import { StanError } from './errors.js'
import { decodePubMsg, encodePubAck } from './protocol.js'
import type { TrafficStats } from './stats.js'
import { isValidChannelName } from './subjects.js'

export class Publisher {
  // Pending PubAcks of the current batch: reply subject and guid, flattened.
  private acks: string[] = []
  private readonly touched = new Set<Channel>()
  private scheduled = false
  private flushing: Promise<void> | undefined
  private readonly drain = () => this.finishBatch()

  constructor(
    private readonly nats: NatsServer,
    private readonly store: Store,
    private readonly channels: Channels,
    private readonly clients: ClientRegistry,
    private readonly delivery: Delivery,
    private readonly stats: TrafficStats,
  ) {}

  onPublish(msg: InboundMessage): void {
    const pm = decodePubMsg(msg.data)
    if (pm === undefined) return this.reject(msg.reply, '')
    // Counted as the real server does: every well-formed PubMsg, valid or not.
    this.stats.inMsgs++
    this.stats.inBytes += msg.data.length
    if (pm.guid === '' || !isValidChannelName(pm.subject) || !this.clients.isValid(pm.clientId, pm.connId.toString('latin1'))) {
      return this.reject(msg.reply, pm.guid)
    }
    const channel = this.channels.getOrCreate(pm.subject)
    if (typeof channel === 'string') return this.reject(msg.reply, pm.guid, channel)
    // The payload is a view on the connection's read buffer: append() copies it into the stored encoding.
    channel.append(pm.subject, pm.reply, pm.data)
    this.touched.add(channel)
    this.acks.push(msg.reply, pm.guid)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.drain)
    }
  }

  private finishBatch(): void {
    this.scheduled = false
    const acks = this.acks
    const touched = [...this.touched]
    this.acks = []
    this.touched.clear()
    const flushed = this.store.flush()
    if (flushed === undefined && this.flushing === undefined) {
      this.deliverAndAck(touched, acks)
      return
    }
    // Batches are acked in order, each once its own flush is done.
    const previous = this.flushing ?? Promise.resolve()
    const done = previous
      .then(() => flushed)
      .then(
        () => this.deliverAndAck(touched, acks),
        (err: unknown) => this.failBatch(err),
      )
    this.flushing = done
    void done.then(() => {
      if (this.flushing === done) this.flushing = undefined
    })
  }

  private deliverAndAck(touched: readonly Channel[], acks: readonly string[]): void {
    for (const channel of touched) {
      for (const sub of channel.plain) this.delivery.sendAvailable(sub)
      for (const group of channel.queues.values()) this.delivery.sendAvailableToQueue(channel, group)
    }
    for (let i = 0; i < acks.length; i += 2) {
      const reply = acks[i]!
      if (reply !== '') this.nats.publish(reply, encodePubAck(acks[i + 1]!))
    }
  }

  /** Storage failed: the messages are not acknowledged (publishers time out), and the server must not go on silently. */
  private failBatch(err: unknown): never {
    throw new Error('stan: unable to flush the message store', { cause: err })
  }

  private reject(reply: string, guid: string, error: string = StanError.InvalidPubReq): void {
    if (reply !== '') this.nats.publish(reply, encodePubAck(guid, error))
  }
}
