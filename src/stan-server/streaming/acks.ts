/**
 * Acknowledgements and ack-wait redelivery (the real server's processAck and
 * performAckExpirationRedelivery). One timer per subscription, armed for the
 * earliest expiry; a sweep redelivers everything expired and re-arms.
 */
import type { Delivery } from './delivery.js'
import { decodeAck } from './protocol.js'
import type { Subscription } from './subscription.js'

/** Messages expiring this close to now are redelivered in the same sweep. */
const SWEEP_SLACK_MS = 15

export class Acks {
  constructor(private readonly delivery: Delivery) {}

  /** An Ack published by the client on the subscription's ack inbox. */
  onAckMessage(sub: Subscription, data: Buffer): void {
    const ack = decodeAck(data)
    if (ack === undefined || ack.subject !== sub.subject) return
    this.process(sub, ack.sequence, true)
  }

  /** `fromUser` is false for the implicit acks of queue reassignment and dropped messages. */
  process(sub: Subscription, sequence: number, fromUser: boolean): void {
    const group = sub.queue
    const subscriptions = sub.channel.store.subscriptions
    if (sub.pending.delete(sequence)) {
      subscriptions.ackPending(sub.id, sequence)
      if (fromUser) (group?.redeliveries ?? sub.redeliveries)?.delete(sequence)
    } else if (group !== undefined && fromUser) {
      // A member may ack a message that was since reassigned to another member.
      for (const member of group.members) {
        if (member !== sub && member.pending.delete(sequence)) {
          subscriptions.ackPending(member.id, sequence)
          group.redeliveries.delete(sequence)
          break
        }
      }
    }
    if (sub.stalled && sub.pending.size < sub.maxInFlight) {
      sub.stalled = false
      if (group !== undefined) {
        if (group.stalledMembers > 0) group.stalledMembers--
        this.delivery.sendAvailableToQueue(sub.channel, group)
      } else {
        this.delivery.sendAvailable(sub)
      }
    }
  }

  /**
   * The subscription's ack timer fired: redeliver what expired. At start-up (`isStartup`) a queue
   * member's messages go back to that member only, as the real server does, so none reaches two members.
   */
  redeliverExpired(sub: Subscription, isStartup = false): void {
    if (sub.clientId === '' || sub.pending.size === 0) return
    const group = sub.queue
    if (group === undefined && sub.hasFailedHeartbeat) {
      // The client may be gone: do not flood it, try again after another ack wait.
      this.delivery.armAckTimer(sub, sub.ackWaitMs)
      return
    }
    const limit = Date.now() + SWEEP_SLACK_MS
    const expired: number[] = []
    for (const [sequence, expiry] of sub.pending) {
      if (expiry > limit) break
      expired.push(sequence)
    }
    const log = sub.channel.store.messages
    for (const sequence of expired) {
      if (!sub.pending.has(sequence)) continue
      const message = log.lookup(sequence)
      if (message === undefined) {
        this.process(sub, sequence, false)
        continue
      }
      if (group !== undefined && !isStartup) {
        // Any member may get it; if another one did, the original member is done with it.
        const [picked, sent] = this.delivery.sendToQueue(group, message, true, true)
        if (picked === undefined) break
        if (picked !== sub && sent) this.process(sub, sequence, false)
      } else {
        this.delivery.send(sub, message, true, true)
      }
    }
    this.rearm(sub)
  }

  /** Arms the timer for the earliest expiry, or leaves it off when nothing is pending. */
  rearm(sub: Subscription): void {
    sub.clearAckTimer()
    for (const expiry of sub.pending.values()) {
      this.delivery.armAckTimer(sub, expiry - Date.now())
      return
    }
  }
}
