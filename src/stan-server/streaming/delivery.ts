/**
 * Sending stored messages to subscriptions: maxInFlight, queue group balancing,
 * the pending (unacknowledged) set and the arming of ack-wait timers
 * (the real server's sendMsgToSub, sendAvailableMessages[ToQueue], performDurableRedelivery).
 */
import type { NatsServer } from '../nats/server.js'
import type { StoredMessage } from '../store/types.js'
import { encodeRedelivery } from './protocol.js'
import type { TrafficStats } from './stats.js'
import type { QueueGroup, SubscribedChannel, Subscription } from './subscription.js'

export const enum SendResult {
  NotSent = 0,
  /** Sent, and the subscription just reached maxInFlight. */
  SentAndStalled = 1,
  Sent = 2,
}

export class Delivery {
  constructor(
    private readonly nats: NatsServer,
    /** Called when a subscription's ack timer fires. */
    private readonly onAckTimeout: (sub: Subscription) => void,
    private readonly stats: TrafficStats,
  ) {}

  send(sub: Subscription, message: StoredMessage, force: boolean, redelivered: boolean): SendResult {
    if (!sub.initialized || sub.clientId === '' || (sub.newOnHold && !redelivered)) return SendResult.NotSent
    const pending = sub.pending
    const inFlight = pending.size
    if (!force && inFlight >= sub.maxInFlight) {
      sub.stalled = true
      return SendResult.NotSent
    }
    const sequence = message.sequence
    const bytes = redelivered ? encodeRedelivery(message.bytes, this.countRedelivery(sub, sequence)) : message.bytes
    this.nats.publish(sub.inbox, bytes)
    this.stats.outMsgs++
    this.stats.outBytes += bytes.length

    if (sub.ackTimer === undefined) this.armAckTimer(sub, sub.ackWaitMs)
    const expiry = Date.now() + sub.ackWaitMs
    if (pending.has(sequence)) {
      // Already pending (a redelivery): move it to the back with its new expiry.
      pending.delete(sequence)
      pending.set(sequence, expiry)
      return SendResult.Sent
    }
    sub.channel.store.subscriptions.addPending(sub.id, sequence)
    if (sequence > sub.lastSent) sub.lastSent = sequence
    pending.set(sequence, expiry)
    if (!force && inFlight + 1 === sub.maxInFlight) {
      sub.stalled = true
      return SendResult.SentAndStalled
    }
    return SendResult.Sent
  }

  /** Sends to the best member of the group; returns the member picked and whether it was sent. */
  sendToQueue(group: QueueGroup, message: StoredMessage, force: boolean, redelivered: boolean): [Subscription | undefined, boolean] {
    const sub = group.pickMember()
    if (sub === undefined) return [undefined, false]
    const wasStalled = sub.stalled
    const sent = this.send(sub, message, force, redelivered) !== SendResult.NotSent
    if (!force && !wasStalled && sub.stalled) group.stalledMembers++
    if (sent && sub.lastSent > group.lastSent) group.lastSent = sub.lastSent
    return [sub, sent]
  }

  /** Sends what the channel holds past the subscription's last sent, up to maxInFlight. */
  sendAvailable(sub: Subscription): void {
    const channel = sub.channel
    for (let next = sub.lastSent + 1; !sub.stalled; next = sub.lastSent + 1) {
      const message = channel.nextMessage(next, sub)
      if (message === undefined) return
      if (this.send(sub, message, false, false) !== SendResult.Sent) return
    }
  }

  sendAvailableToQueue(channel: SubscribedChannel, group: QueueGroup): void {
    if (group.members.length === 0 || group.newOnHold) return
    while (group.stalledMembers < group.members.length) {
      const message = channel.nextMessage(group.lastSent + 1, group)
      if (message === undefined) return
      const [, sent] = this.sendToQueue(group, message, false, false)
      if (!sent) return
    }
  }

  /** After a subscription starts: new and resumed ones get what is available. */
  start(sub: Subscription): void {
    if (sub.isDurable) this.redeliverPending(sub)
    if (sub.queue !== undefined) this.sendAvailableToQueue(sub.channel, sub.queue)
    else this.sendAvailable(sub)
  }

  /** A resumed durable gets all its unacknowledged messages again, in sequence order. */
  private redeliverPending(sub: Subscription): void {
    const sequences = [...sub.pending.keys()].sort((a, b) => a - b)
    const log = sub.channel.store.messages
    for (const sequence of sequences) {
      const message = log.lookup(sequence)
      if (message === undefined) {
        // Dropped by limits meanwhile: forget it, as an ack would.
        sub.pending.delete(sequence)
        sub.channel.store.subscriptions.ackPending(sub.id, sequence)
        continue
      }
      if (sub.pending.has(sequence)) this.send(sub, message, true, true)
    }
    sub.newOnHold = false
  }

  armAckTimer(sub: Subscription, delayMs: number): void {
    sub.clearAckTimer()
    sub.ackTimer = setTimeout(() => {
      sub.ackTimer = undefined
      this.onAckTimeout(sub)
    }, Math.max(1, delayMs))
    sub.ackTimer.unref()
  }

  private countRedelivery(sub: Subscription, sequence: number): number {
    const counts = sub.queue?.redeliveries ?? (sub.redeliveries ??= new Map())
    const count = (counts.get(sequence) ?? 0) + 1
    counts.set(sequence, count)
    return count
  }
}
