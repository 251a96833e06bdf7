/** The STAN layer on top of a NATS server: wires the protocol handlers to the internal subjects. */
import type { NatsServer, Subscription as NatsSubscription } from '../nats/server.js'
import type { Store } from '../store/types.js'
import { Acks } from './acks.js'
import { Channels } from './channel.js'
import { ClientRegistry } from './clients.js'
import { Connections, type HeartbeatOptions } from './connections.js'
import { Delivery } from './delivery.js'
import { Nuid } from './nuid.js'
import { Publisher } from './publish.js'
import { restoreState } from './recovery.js'
import { newTrafficStats, type TrafficStats } from './stats.js'
import { Requester } from './requester.js'
import { stanSubjects, type StanSubjects } from './subjects.js'
import { Subscriptions } from './subscriptions.js'

export interface StreamingOptions {
  clusterId: string
  discoverPrefix?: string
  heartbeat: HeartbeatOptions
}

export class StreamingServer {
  readonly subjects: StanSubjects
  /** Read by the monitoring endpoints. */
  readonly serverId: string
  readonly startTime = new Date()
  readonly stats: TrafficStats = newTrafficStats()
  readonly channels: Channels
  readonly clients = new ClientRegistry()
  private readonly internal: NatsSubscription[] = []
  private readonly requester: Requester
  private readonly connections: Connections

  constructor(nats: NatsServer, store: Store, options: StreamingOptions) {
    const subjects = (this.subjects = stanSubjects(options.clusterId, options.discoverPrefix))
    const nuid = new Nuid()
    this.serverId = nuid.next()
    const channels = (this.channels = new Channels(store))
    // Delivery and acks refer to each other through the ack timer callback.
    const delivery: Delivery = new Delivery(nats, (sub) => acks.redeliverExpired(sub), this.stats)
    const acks: Acks = new Acks(delivery)
    const subscriptions = new Subscriptions(nats, channels, this.clients, delivery, acks, nuid, store.limits.maxSubscriptions)
    const publisher = new Publisher(nats, store, channels, this.clients, delivery, this.stats)
    this.requester = new Requester(nats, nuid)
    this.connections = new Connections(nats, store, subjects, this.clients, subscriptions, this.requester, options.heartbeat)
    restoreState(store.recover(), { channels, connections: this.connections, subscriptions, delivery, acks })

    const on = (subject: string, handler: Parameters<NatsServer['subscribe']>[1]) => {
      this.internal.push(nats.subscribe(subject, handler))
    }
    on(subjects.discover, (m) => this.connections.onConnectRequest(m))
    on(`${subjects.publish}.>`, (m) => publisher.onPublish(m))
    on(subjects.subscribe, (m) => subscriptions.onSubscriptionRequest(m))
    on(subjects.unsubscribe, (m) => subscriptions.onUnsubscribeRequest(m))
    on(subjects.subClose, (m) => subscriptions.onSubCloseRequest(m))
    on(subjects.close, (m) => this.connections.onCloseRequest(m))
    on(subjects.pings, (m) => this.connections.onPing(m))
  }

  /** Stops listening and cancels every timer; state is dropped with the instance. */
  close(): void {
    for (const sub of this.internal) sub.unsubscribe()
    this.internal.length = 0
    this.connections.close()
    this.requester.close()
    for (const channel of this.channels.all()) {
      for (const sub of channel.byAckInbox.values()) {
        sub.clearAckTimer()
        sub.stopAckSubscription()
      }
    }
  }
}
