/**
 * A NATS Streaming subscriber client on @nats-io/transport-node: what the service needs of the protocol (connect,
 * heartbeats, streaming pings, a durable manual-ack subscription, acks, close), as node-nats-streaming and stan.go
 * do it on the wire, with the project's hand-written STAN codec. Per delivered message it decodes the MsgProto in
 * place (the data is a view on the socket's bytes) and an ack is one small encode and publish: node-nats-streaming
 * turns each socket chunk into a string and back and builds several objects per message and per ack.
 * Every wait on the network is bounded; failures are values (`{ ok: false, reason }`) or the `lost` promise.
 */
import { connect, createInbox, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import {
  decodeCloseResponse,
  decodeConnectResponse,
  decodeMsgProto,
  decodePingResponse,
  decodeSubscriptionResponse,
  encodeAck,
  encodeCloseRequest,
  encodeConnectRequest,
  encodePing,
  encodeSubscriptionRequest,
  encodeUnsubscribeRequest,
  StartPosition,
  type ConnectResponse,
  type MsgProto,
} from '../stan-server/streaming/protocol.js'

const PROTOCOL_ONE = 1
const DISCOVER_PREFIX = '_STAN.discover'

/** From connecting to one server to the streaming session's answer: TCP, the NATS handshake, the connect request. */
export const CONNECT_TIMEOUT_MS = 5_000

/**
 * How a connection that stops answering without closing (no FIN, no RST) is noticed: by pings, on two levels.
 * The NATS client pings every 2 s and, with 2 pings unanswered, ends the connection as stale at the third tick:
 * ≤ 6 s after the last answer. The streaming client pings the broker every 2 s (whole seconds on the wire) and
 * ends the connection as lost with 3 pings unanswered at the fourth: ≤ 8 s. Either way the connection is
 * replaced as after any loss (connect again with backoff, resume the durable). The defaults (NATS 2 min × 2,
 * streaming 5 s × 3) left it to luck: about 19 s, or 4 min if only the NATS level answered. A ping is a few
 * bytes every 2 s: nothing beside the messages.
 */
export const PINGS = { pingInterval: 2_000, maxPingOut: 2, stanPingInterval: 2_000, stanMaxPingOut: 3 } as const

export interface StanClientOptions {
  server: string
  clusterId: string
  clientId: string
  /** Bounds the whole connect: TCP, the NATS handshake, the streaming connect request. */
  connectTimeoutMs: number
  /** Bounds each later request: subscribe, subscription close or unsubscribe, connection close. */
  requestTimeoutMs: number
  /**
   * NATS pings (pingInterval ms, maxPingOut) and streaming pings (stanPingInterval ms, sent in whole seconds, and
   * stanMaxPingOut): the values asked of the broker, which may answer with its own, as stan.go takes them.
   */
  pings: { pingInterval: number; maxPingOut: number; stanPingInterval: number; stanMaxPingOut: number }
  /** The servers the cluster announces (its INFO's connect_urls, as nats:// URLs), at connect and whenever they change. */
  onServers?: (urls: string[]) => void
}

export type Outcome<T> = ({ ok: true } & T) | { ok: false; reason: string }

export interface StanSubscribeOptions {
  channel: string
  /** Empty: a subscription that ends with its connection. */
  durableName: string
  /** A durable queue group; unset: a plain durable. */
  queueGroup?: string | undefined
  maxInFlight: number
  /** Sent in whole seconds, rounded up. */
  ackWaitMs: number
  /** Where a new subscription starts (a durable resumes where it was): the first message unless said otherwise. */
  start?: StanStart | undefined
}

/** A start other than the channel's first message: its last one, a sequence, or the first at or after a moment. */
export type StanStart = 'last' | { sequence: number } | { since: Date }

/** Called per delivered message (its data a view on the received bytes), with the subscription to ack it on. */
export type OnStanMessage = (message: MsgProto, subscription: StanSubscription) => void

/**
 * Opens a NATS connection to `options.server` (no reconnect of its own: a new server needs a new streaming
 * session, which the caller sets up) and the streaming session on it. Refused when the broker says so (say,
 * "clientID already registered") or does not answer within the connect timeout.
 */
export async function connectStan(options: StanClientOptions): Promise<Outcome<{ connection: StanConnection }>> {
  const started = Date.now()
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: options.server,
      name: options.clientId,
      reconnect: false,
      maxReconnectAttempts: 0,
      timeout: options.connectTimeoutMs,
      pingInterval: options.pings.pingInterval,
      maxPingOut: options.pings.maxPingOut,
    })
  } catch (error) {
    return { ok: false, reason: `connect: ${messageOf(error)}` }
  }
  // Known from the NATS handshake on: a node without a streaming server still names the others.
  announce(nc, options)
  // The broker's heartbeats: requests on this inbox, answered with an empty reply, or it drops the client.
  const heartbeatInbox = createInbox()
  nc.subscribe(heartbeatInbox, {
    callback: (error, msg) => {
      if (error === null) respondQuietly(msg)
    },
  })
  const connId = Buffer.from(nuid.next())
  const request = encodeConnectRequest({
    clientId: options.clientId,
    heartbeatInbox,
    protocol: PROTOCOL_ONE,
    connId,
    pingInterval: Math.ceil(options.pings.stanPingInterval / 1000),
    pingMaxOut: options.pings.stanMaxPingOut,
  })
  const remainingMs = Math.max(1, options.connectTimeoutMs - (Date.now() - started))
  const answer = await requestBounded(nc, `${DISCOVER_PREFIX}.${options.clusterId}`, request, remainingMs)
  const response = answer.ok ? decodeConnectResponse(answer.data) : undefined
  const refusal = !answer.ok ? `connect request: ${answer.reason}` : response === undefined ? 'connect request: malformed response' : response.error
  if (refusal !== '' || response === undefined) {
    await nc.close().catch(() => {})
    return { ok: false, reason: refusal }
  }
  return { ok: true, connection: new StanConnection(nc, options, response, connId) }
}

/** A streaming session on its NATS connection. */
export class StanConnection {
  /** Resolves with why once the connection is lost (closed under it, stale, pings unanswered or refused); never after close(). */
  readonly lost: Promise<string>
  #markLost!: (reason: string) => void
  #over = false
  #pingTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: StanClientOptions,
    private readonly session: ConnectResponse,
    connId: Buffer,
  ) {
    this.lost = new Promise((resolve) => (this.#markLost = resolve))
    void nc.closed().then((error) => this.#lose(error === undefined ? 'connection closed' : `connection closed: ${messageOf(error)}`))
    if (session.protocol >= PROTOCOL_ONE && session.pingInterval !== 0) this.#ping(connId)
    if (options.onServers !== undefined) void this.#watchServers()
  }

  /**
   * Subscribes `options.channel` from its first message or `options.start` (a durable resumes where it was), acks by hand.
   * Messages are handed on once this has resolved: the caller knows the subscription is live before the first.
   */
  async subscribe(options: StanSubscribeOptions, onMessage: OnStanMessage): Promise<Outcome<{ subscription: StanSubscription }>> {
    const inbox = createInbox()
    const subscription = new StanSubscription(this.nc, this.options, this.session, options.channel, onMessage)
    subscription.deliveries = this.nc.subscribe(inbox, {
      // An error comes with no message (a subscription the server refused, say): nothing to hand on.
      callback: (error, msg) => {
        if (error !== null) return
        const delivered = decodeMsgProto(bufferOf(msg.data))
        // Not a MsgProto: nothing to hand on, and nothing to ack (the broker redelivers what it sent).
        if (delivered !== undefined) subscription.deliver(delivered)
      },
    })
    const request = encodeSubscriptionRequest({
      clientId: this.options.clientId,
      subject: options.channel,
      qGroup: options.queueGroup ?? '',
      inbox,
      maxInFlight: options.maxInFlight,
      ackWaitInSecs: Math.ceil(options.ackWaitMs / 1000),
      durableName: options.durableName,
      ...startOf(options.start),
    })
    const answer = await requestBounded(this.nc, this.session.subRequests, request, this.options.requestTimeoutMs)
    const response = answer.ok ? decodeSubscriptionResponse(answer.data) : undefined
    const refusal = !answer.ok ? `subscription request: ${answer.reason}` : response === undefined ? 'subscription request: malformed response' : response.error
    if (refusal !== '' || response === undefined) {
      subscription.deliveries.unsubscribe()
      return { ok: false, reason: refusal }
    }
    subscription.ready(response.ackInbox)
    return { ok: true, subscription }
  }

  /** Ends the session on the broker (bounded), then the NATS connection. The broker's refusal, if any, is returned. */
  async close(): Promise<string | undefined> {
    if (this.#over) return undefined
    this.#stop()
    const answer = await requestBounded(this.nc, this.session.closeRequests, encodeCloseRequest(this.options.clientId), this.options.requestTimeoutMs)
    await this.nc.close().catch(() => {})
    if (!answer.ok) return `close request: ${answer.reason}`
    return decodeCloseResponse(answer.data)?.error || undefined
  }

  #lose(reason: string): void {
    if (this.#over) return
    this.#stop()
    this.#markLost(reason)
    this.nc.close().catch(() => {})
  }

  #stop(): void {
    this.#over = true
    clearInterval(this.#pingTimer)
  }

  /** Streaming pings, as the broker's connect response sets them: `pingMaxOut` unanswered in a row, or a refusal, is a loss. */
  #ping(connId: Buffer): void {
    const { pingRequests, pingInterval, pingMaxOut } = this.session
    const ping = encodePing(connId)
    const inbox = createInbox()
    let out = 0
    this.nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error !== null) return
        const refusal = msg.data.length === 0 ? '' : decodePingResponse(bufferOf(msg.data))?.error
        if (refusal) this.#lose(`streaming ping refused: ${refusal}`)
        else out = 0
      },
    })
    this.#pingTimer = setInterval(() => {
      if (++out > pingMaxOut) return this.#lose(`streaming pings unanswered: ${pingMaxOut} in a row`)
      try {
        this.nc.publish(pingRequests, ping, { reply: inbox })
      } catch (error) {
        this.#lose(`streaming ping: ${messageOf(error)}`)
      }
    }, pingInterval * 1000)
  }

  /** transport-node reports a changed cluster as an `update` status; the INFO then holds the whole list. */
  async #watchServers(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'update') announce(this.nc, this.options)
    }
  }
}

/** A durable, manual-ack subscription of a StanConnection. */
export class StanSubscription {
  /** The inbox the broker delivers to; set by subscribe(). */
  deliveries!: Subscription
  #ackInbox = ''
  /**
   * Messages that came before the broker's answer was read (the broker starts delivering as it answers, often in
   * the same read): handed on in order once subscribe() has resolved. Undefined from then on.
   */
  #held: MsgProto[] | undefined = []
  #left = false

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: StanClientOptions,
    private readonly session: ConnectResponse,
    private readonly channel: string,
    private readonly onMessage: OnStanMessage,
  ) {}

  deliver(message: MsgProto): void {
    if (this.#held === undefined) this.onMessage(message, this)
    else this.#held.push(message)
  }

  /** The broker accepted the subscription: acks go to `ackInbox`, and what came meanwhile is handed on after the caller's continuation. */
  ready(ackInbox: string): void {
    this.#ackInbox = ackInbox
    setImmediate(() => {
      const held = this.#held ?? []
      this.#held = undefined
      for (const message of held) if (!this.#left) this.onMessage(message, this)
    })
  }

  /** Never throws: an ack the connection cannot send means a redelivery later. */
  ack(sequence: number): void {
    try {
      this.nc.publish(this.#ackInbox, encodeAck(this.channel, sequence))
    } catch {
      // The connection is gone: the broker delivers the message again.
    }
  }

  /** Leaves, keeping a durable's place on the broker (the next subscription resumes at its first unacked message). */
  close(): Promise<string | undefined> {
    return this.#leave(this.session.subCloseRequests, 'subscription close')
  }

  /** Leaves and deletes the durable on the broker. */
  unsubscribe(): Promise<string | undefined> {
    return this.#leave(this.session.unsubRequests, 'unsubscribe')
  }

  async #leave(subject: string, what: string): Promise<string | undefined> {
    this.#left = true
    this.deliveries.unsubscribe()
    const request = encodeUnsubscribeRequest({ clientId: this.options.clientId, subject: this.channel, inbox: this.#ackInbox, durableName: '' })
    const answer = await requestBounded(this.nc, subject, request, this.options.requestTimeoutMs)
    if (!answer.ok) return `${what} request: ${answer.reason}`
    return decodeSubscriptionResponse(answer.data)?.error || undefined
  }
}

/** A SubscriptionRequest's start fields; a moment is sent as the time since it, in ns (as node-nats-streaming does). */
function startOf(start: StanStart | undefined): { startPosition: StartPosition; startSequence: number; startTimeDelta: number } {
  if (start === undefined) return { startPosition: StartPosition.First, startSequence: 0, startTimeDelta: 0 }
  if (start === 'last') return { startPosition: StartPosition.LastReceived, startSequence: 0, startTimeDelta: 0 }
  if ('sequence' in start) return { startPosition: StartPosition.SequenceStart, startSequence: start.sequence, startTimeDelta: 0 }
  return { startPosition: StartPosition.TimeDeltaStart, startSequence: 0, startTimeDelta: (Date.now() - start.since.getTime()) * 1_000_000 }
}

/** Reports the servers the connected node's cluster announces (its last INFO's connect_urls). */
function announce(nc: NatsConnection, options: StanClientOptions): void {
  const urls = nc.info?.connect_urls
  if (urls !== undefined) options.onServers?.(urls.map((hostPort) => `nats://${hostPort}`))
}

/** Answers a heartbeat; on a connection closing meanwhile there is no one left to answer. */
function respondQuietly(msg: Msg): void {
  try {
    msg.respond()
  } catch {
    // Closed: the broker notices the client is gone by its heartbeats, as it should.
  }
}

/** A request answered within `timeoutMs`, or why not (a timeout, no responders, a closed connection). */
async function requestBounded(nc: NatsConnection, subject: string, data: Uint8Array, timeoutMs: number): Promise<Outcome<{ data: Buffer }>> {
  try {
    const reply: Msg = await nc.request(subject, data, { timeout: timeoutMs })
    return { ok: true, data: bufferOf(reply.data) }
  } catch (error) {
    return { ok: false, reason: messageOf(error) }
  }
}

/** The same bytes as a Buffer (transport-node hands out Buffer views already; anything else is wrapped, not copied). */
function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
