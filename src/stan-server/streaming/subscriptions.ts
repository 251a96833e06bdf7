/**
 * Subscription requests, unsubscribe and subscription close (the real server's
 * processSubscriptionRequest, processSub, performUnsubOrCloseSubscription, subStore.Remove).
 */
import type { InboundMessage, NatsServer } from '../nats/server.js'
import type { RecoveredSubscription } from '../store/types.js'
import type { Acks } from './acks.js'
import type { Channel, Channels } from './channel.js'
import type { Client, ClientRegistry } from './clients.js'
import type { Delivery } from './delivery.js'
import { StanError } from './errors.js'
import type { Nuid } from './nuid.js'
import {
  StartPosition,
  decodeSubscriptionRequest,
  decodeUnsubscribeRequest,
  encodeSubscriptionResponse,
  type SubscriptionRequest,
} from './protocol.js'
import { isValidChannelName } from './subjects.js'
import { QueueGroup, Subscription, durableKey } from './subscription.js'

/** Transferred messages of a leaving queue member are redelivered this soon. */
const TRANSFER_REDELIVERY_MS = 100

export class Subscriptions {
  constructor(
    private readonly nats: NatsServer,
    private readonly channels: Channels,
    private readonly clients: ClientRegistry,
    private readonly delivery: Delivery,
    private readonly acks: Acks,
    private readonly nuid: Nuid,
    /** Per channel; 0 is unlimited. */
    private readonly maxSubscriptions: number,
  ) {}

  onSubscriptionRequest(msg: InboundMessage): void {
    const reply = msg.reply
    const sr = decodeSubscriptionRequest(msg.data)
    const invalid = sr === undefined ? StanError.InvalidSubReq : validate(sr)
    if (invalid !== undefined) return this.respond(reply, '', invalid)
    const client = this.clients.lookup(sr!.clientId)
    if (client === undefined) return this.respond(reply, '', StanError.UnknownClient)

    const channel = this.channels.getOrCreate(sr!.subject)
    if (typeof channel === 'string') return this.respond(reply, '', channel)
    const created = this.subscribe(client, channel, sr!)
    if (typeof created === 'string') return this.respond(reply, '', created)
    this.respond(reply, created.ackInbox, '')
    // Only now may messages flow: the client must see the response first.
    created.initialized = true
    this.delivery.start(created)
  }

  onUnsubscribeRequest(msg: InboundMessage): void {
    this.unsubscribeOrClose(msg, false)
  }

  onSubCloseRequest(msg: InboundMessage): void {
    this.unsubscribeOrClose(msg, true)
  }

  /** A closing client's subscriptions go; its durables stay, offline. */
  removeAllNonDurable(client: Client): void {
    for (const sub of client.subs) this.remove(sub, false)
    client.subs.clear()
  }

  private unsubscribeOrClose(msg: InboundMessage, isClose: boolean): void {
    const req = decodeUnsubscribeRequest(msg.data)
    if (req === undefined) return this.respond(msg.reply, '', StanError.InvalidUnsubReq)
    const channel = this.channels.get(req.subject)
    if (channel === undefined) return this.respond(msg.reply, '', StanError.UnknownChannel)
    const sub = channel.lookupForUnsubscribe(req.inbox)
    if (sub === undefined) return this.respond(msg.reply, '', StanError.InvalidSub)
    const client = this.clients.lookup(req.clientId)
    if (client === undefined || !client.subs.delete(sub)) return this.respond(msg.reply, '', StanError.UnknownClient)
    this.remove(sub, !isClose)
    this.respond(msg.reply, '', '')
  }

  /** Creates or resumes the subscription; returns an error text when refused. */
  private subscribe(client: Client, channel: Channel, sr: SubscriptionRequest): Subscription | StanError {
    let qGroup = sr.qGroup
    let durableName = sr.durableName
    let isDurable = false
    let resumed: Subscription | undefined
    let setStart = true
    if (qGroup !== '') {
      if (durableName !== '') {
        // The real server names a durable group "durable:group" and keeps no durable name on members.
        if (durableName.includes(':')) return StanError.InvalidDurName
        isDurable = true
        qGroup = `${durableName}:${qGroup}`
        durableName = ''
      }
      const group = channel.queues.get(qGroup)
      if (group !== undefined) {
        if (group.shadow !== undefined) {
          resumed = group.shadow
          group.shadow = undefined
          group.members.push(resumed)
        }
        setStart = false
      }
    } else if (durableName !== '') {
      resumed = channel.durables.get(durableKey(sr.clientId, sr.subject, durableName))
      if (resumed !== undefined) {
        if (resumed.clientId !== '') return StanError.DupDurable
        setStart = false
      }
      isDurable = true
    }

    const ackInbox = this.nuid.inbox()
    let sub: Subscription
    if (resumed !== undefined) {
      sub = resumed
      sub.ackInbox = ackInbox
      sub.clientId = sr.clientId
      sub.inbox = sr.inbox
      sub.isDurable = true
      // New flow-control options apply; the start position is the remembered one.
      sub.maxInFlight = sr.maxInFlight
      sub.ackWaitInSecs = sr.ackWaitInSecs
      sub.stalled = false
      sub.isClosed = false
      sub.hasFailedHeartbeat = false
      sub.initialized = false
      if (sub.pending.size > 0) {
        sub.newOnHold = true
        this.delivery.armAckTimer(sub, sub.ackWaitMs)
      }
      channel.readd(sub)
      channel.store.subscriptions.update(sub)
    } else {
      const max = this.maxSubscriptions
      if (max > 0 && channel.subscriptionCount() >= max) return StanError.TooManySubs
      sub = new Subscription(channel.newSubscriptionId(), channel, {
        clientId: sr.clientId, qGroup, inbox: sr.inbox, ackInbox, durableName,
        maxInFlight: sr.maxInFlight, ackWaitInSecs: sr.ackWaitInSecs, isDurable,
      })
      if (setStart) sub.lastSent = startingPoint(channel, sr)
      channel.store.subscriptions.create(sub)
      channel.add(sub)
    }
    client.subs.add(sub)
    sub.ackSubscription = this.nats.subscribe(ackInbox, (ack) => this.acks.onAckMessage(sub, ack.data))
    return sub
  }

  /**
   * Re-creates a subscription recovered from the store. Returns it when it is online
   * (its client is registered), so the caller can resume delivery once all is restored.
   */
  restore(channel: Channel, recovered: RecoveredSubscription): Subscription | undefined {
    const { record } = recovered
    channel.reserveSubscriptionId(record.id)
    const sub = new Subscription(record.id, channel, record)
    sub.savedClientId = record.clientId
    sub.lastSent = record.lastSent
    sub.isClosed = record.isClosed
    recoverPending(sub, recovered.pending)
    const client = record.clientId === '' || record.isClosed ? undefined : this.clients.lookup(record.clientId)

    if (client !== undefined) {
      channel.add(sub)
      client.subs.add(sub)
      sub.ackSubscription = this.nats.subscribe(sub.ackInbox, (ack) => this.acks.onAckMessage(sub, ack.data))
      sub.initialized = true
      return sub
    }
    if (!sub.isDurable) {
      channel.store.subscriptions.delete(sub.id)
      return undefined
    }
    if (sub.qGroup === '') {
      // An offline durable, found again by its owner's client ID.
      channel.durables.set(sub.durableKey(record.clientId), sub)
      sub.clientId = ''
      return undefined
    }
    const group = channel.queues.get(sub.qGroup) ?? new QueueGroup(sub.qGroup)
    if (group.shadow !== undefined || group.members.length > 0) {
      channel.store.subscriptions.delete(sub.id)
      return undefined
    }
    channel.queues.set(sub.qGroup, group)
    sub.clientId = ''
    sub.queue = group
    group.shadow = sub
    if (sub.lastSent > group.lastSent) group.lastSent = sub.lastSent
    return undefined
  }

  /** Takes the subscription offline (`unsubscribe` false: durables are kept) or removes it for good. */
  remove(sub: Subscription, unsubscribe: boolean): void {
    // The channel's index of its subscriptions, found by name as the real server does (channels.get(sub.subject)).
    const channel = this.channels.get(sub.subject)
    if (channel === undefined) throw new Error(`subscription ${sub.id} is on channel ${sub.subject}, which does not exist`)
    const subLog = channel.store.subscriptions
    const clientId = sub.clientId
    const key = sub.durableKey()
    sub.savedClientId = clientId
    sub.clientId = ''
    sub.stopAckSubscription()
    sub.clearAckTimer()
    if (!sub.isDurable || (unsubscribe && key !== '')) subLog.delete(sub.id)
    channel.byAckInbox.delete(sub.ackInbox)
    channel.byInbox.delete(sub.inbox)
    if (unsubscribe && key !== '') channel.durables.delete(key)

    const group = sub.queue
    if (group === undefined) {
      channel.plain = channel.plain.filter((s) => s !== sub)
      if (sub.isDurable && !unsubscribe) {
        sub.isClosed = true
        sub.clientId = clientId
        subLog.update(sub)
        sub.clientId = ''
      }
      return
    }

    group.members = group.members.filter((s) => s !== sub)
    if (group.members.length === 0) {
      if (!sub.isDurable || unsubscribe) {
        channel.queues.delete(group.name)
        subLog.delete(sub.id)
      } else {
        // The group lives on in its last member until someone rejoins.
        group.shadow = sub
        group.stalledMembers = 0
        sub.lastSent = group.lastSent
        subLog.update(sub)
      }
      return
    }
    if (sub.stalled && group.stalledMembers > 0) group.stalledMembers--
    this.transferPending(sub)
    if (sub.isDurable) subLog.delete(sub.id)
  }

  /** The leaving member's unacknowledged messages go round-robin to the others, due at once. */
  private transferPending(sub: Subscription): void {
    const group = sub.queue!
    const members = group.members
    const sequences = [...sub.pending.keys()].sort((a, b) => a - b)
    if (sequences.length === 0) return
    const due = Date.now() - 1000
    const moved = new Map<Subscription, number[]>()
    sequences.forEach((sequence, i) => {
      const member = members[i % members.length]!
      sub.channel.store.subscriptions.addPending(member.id, sequence)
      if (sequence > member.lastSent) member.lastSent = sequence
      let list = moved.get(member)
      if (list === undefined) moved.set(member, (list = []))
      list.push(sequence)
    })
    sub.pending.clear()
    for (const [member, list] of moved) {
      // Already due, so they go to the front of the member's expiry-ordered pending map.
      const reordered = new Map<number, number>()
      for (const sequence of list) reordered.set(sequence, due)
      for (const [sequence, expiry] of member.pending) if (!reordered.has(sequence)) reordered.set(sequence, expiry)
      member.pending = reordered
      this.delivery.armAckTimer(member, TRANSFER_REDELIVERY_MS)
    }
  }

  private respond(reply: string, ackInbox: string, error: string): void {
    if (reply !== '') this.nats.publish(reply, encodeSubscriptionResponse(ackInbox, error))
  }
}

/**
 * A recovered unacknowledged message expires one ack wait after it was published, as the real server
 * sets it on startup (performAckExpirationRedelivery: timestamp + AckWait): a client back within that
 * time gets it once, with redelivery count 1. One no longer stored is due at once, to be dropped as acked.
 */
function recoverPending(sub: Subscription, sequences: readonly number[]): void {
  const log = sub.channel.store.messages
  const now = Date.now()
  const expiries = sequences.map((sequence) => {
    const timestampNs = log.lookup(sequence)?.timestamp
    return [sequence, timestampNs === undefined ? now : Math.floor(timestampNs / 1e6) + sub.ackWaitMs] as const
  })
  // The pending map is kept in expiry order: the redelivery sweep stops at the first one not yet due.
  expiries.sort((a, b) => a[1] - b[1] || a[0] - b[0])
  for (const [sequence, expiry] of expiries) sub.pending.set(sequence, expiry)
}

function validate(sr: SubscriptionRequest): StanError | undefined {
  if (sr.clientId === '') return StanError.MissingClient
  if (sr.ackWaitInSecs <= 0) return StanError.InvalidAckWait
  if (sr.maxInFlight <= 0) return StanError.InvalidMaxInflight
  if (sr.startPosition < StartPosition.NewOnly || sr.startPosition > StartPosition.First) return StanError.InvalidStart
  if (!isValidChannelName(sr.subject)) return StanError.InvalidSubject
  return undefined
}

/** The last sequence considered sent to a new subscription (setSubStartSequence). */
function startingPoint(channel: Channel, sr: SubscriptionRequest): number {
  const log = channel.store.messages
  switch (sr.startPosition) {
    case StartPosition.NewOnly:
      return log.lastSequence
    case StartPosition.LastReceived:
      return log.lastSequence > 0 ? log.lastSequence - 1 : 0
    case StartPosition.TimeDeltaStart: {
      const nowNs = Math.floor((performance.timeOrigin + performance.now()) * 1e6)
      const seq = log.sequenceAtOrAfter(nowNs - sr.startTimeDelta)
      return seq > 0 ? seq - 1 : 0
    }
    case StartPosition.SequenceStart:
      if (sr.startSequence < log.firstSequence) return log.firstSequence > 0 ? log.firstSequence - 1 : 0
      if (sr.startSequence > log.lastSequence) return log.lastSequence
      return sr.startSequence > 0 ? sr.startSequence - 1 : 0
    default:
      return log.firstSequence > 0 ? log.firstSequence - 1 : 0
  }
}
