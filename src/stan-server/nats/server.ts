/**
 * The NATS core server: a TCP listener speaking the NATS client protocol (as gnatsd / nats-server
 * 2.9 does, headers and "no responders" included), routing messages between clients and in-process
 * subscribers by subject.
 *
 * In-process handlers run synchronously while a message is routed; the data they get may be a view
 * into a socket's read buffer and must be copied if kept. They get a message's data without its
 * headers, as a NATS client of the real server reads msg.Data.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import {
  ClientConnection,
  ClientSubscription,
  type CloseReason,
  type ConnectionHost,
  type ConnectionLimits,
  type Subscriber,
} from './client-connection.js'
import { SubjectIndex } from './subjects.js'

export interface NatsServerOptions {
  /** Default '127.0.0.1'. */
  host?: string
  /** Default 4222; 0 picks a free port. */
  port?: number
  /** Largest payload a client may publish; default 1 MiB. */
  maxPayload?: number
  /** Unwritten output after which a client is dropped as a slow consumer; default 64 MiB. */
  maxPendingBytes?: number
  /** Default 64K, as gnatsd. */
  maxConnections?: number
  /** Interval of the server's PINGs to clients; default 2 minutes, as gnatsd. */
  pingIntervalMs?: number
  /** Unanswered PINGs after which a client is stale; default 2. */
  maxPingsOut?: number
}

export interface InboundMessage {
  subject: string
  /** '' when none. */
  reply: string
  /** Without the message's headers, if it had any. May be a view into a read buffer: copy it if kept beyond the call. */
  data: Buffer
}

export type MessageHandler = (msg: InboundMessage) => void

export interface Subscription {
  unsubscribe(): void
}

/** Counters shaped after gnatsd's /varz. */
export interface NatsServerStats {
  connections: number
  totalConnections: number
  subscriptions: number
  slowConsumers: number
  inMsgs: number
  inBytes: number
  outMsgs: number
  outBytes: number
}

export interface NatsServer {
  readonly host: string
  readonly port: number
  /** nats://host:port with the bound port, also when port 0 was asked. */
  readonly url: string
  /** In-process subscriber: receives what clients (and in-process publishers) publish on matching subjects; queue groups as for clients. */
  subscribe(subject: string, handler: MessageHandler, options?: { queue?: string }): Subscription
  /** Publish from inside the process to client and in-process subscribers; returns how many got it (0: no responders). */
  publish(subject: string, data: Uint8Array, reply?: string): number
  stats(): NatsServerStats
  /** Stop accepting, close every client, resolve when the listener is closed. */
  close(): Promise<void>
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const server = new CoreServer(resolveOptions(options))
  await server.listen()
  return server
}

/** The version of nats-server that nats-streaming-server 0.25 embeds. */
const SERVER_VERSION = '2.9.24'

interface ResolvedOptions extends ConnectionLimits {
  host: string
  port: number
  maxConnections: number
  pingIntervalMs: number
}

function resolveOptions(options: NatsServerOptions): ResolvedOptions {
  const resolved = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 4222,
    maxPayload: options.maxPayload ?? 1024 * 1024,
    maxControlLine: 4096,
    maxPendingBytes: options.maxPendingBytes ?? 64 * 1024 * 1024,
    maxConnections: options.maxConnections ?? 64 * 1024,
    pingIntervalMs: options.pingIntervalMs ?? 2 * 60 * 1000,
    maxPingsOut: options.maxPingsOut ?? 2,
  }
  for (const [key, value] of Object.entries(resolved)) {
    if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(`NATS server option ${key} must be a non-negative integer, got ${value}`)
    }
  }
  if (resolved.port > 65535) throw new RangeError(`NATS server option port must be at most 65535, got ${resolved.port}`)
  return resolved
}

class InProcessSubscription implements Subscriber, Subscription {
  readonly owner = undefined
  private active = true

  constructor(
    private readonly server: CoreServer,
    readonly subject: string,
    readonly queue: string,
    private readonly handler: MessageHandler,
  ) {}

  deliver(subject: string, reply: string, payload: Buffer, headerSize: number): void {
    if (this.active) this.handler({ subject, reply, data: headerSize > 0 ? payload.subarray(headerSize) : payload })
  }

  unsubscribe(): void {
    if (!this.active) return
    this.active = false
    this.server.removeSubscription(this.subject, this)
  }
}

class CoreServer implements NatsServer, ConnectionHost {
  readonly limits: ConnectionLimits
  private readonly listener: Server
  private readonly index = new SubjectIndex<Subscriber>()
  private readonly connections = new Set<ClientConnection>()
  /** Every open socket, including ones already dropped as connections but still flushing. */
  private readonly sockets = new Set<Socket>()
  private readonly serverId = newServerId()
  private readonly counters = { totalConnections: 0, slowConsumers: 0, inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0 }
  private toFlush: ClientConnection[] = []
  private pingTimer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined
  private bound = { host: '', port: 0 }

  constructor(private readonly options: ResolvedOptions) {
    this.limits = options
    this.listener = createServer((socket) => this.accept(socket))
  }

  get host(): string {
    return this.bound.host
  }

  get port(): number {
    return this.bound.port
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host
    return `nats://${host}:${this.port}`
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject)
      this.listener.listen(this.options.port, this.options.host, () => {
        this.listener.off('error', reject)
        resolve()
      })
    })
    const address = this.listener.address()
    if (address === null || typeof address === 'string') throw new Error('NATS listener has no TCP address')
    this.bound = { host: address.address, port: address.port }
    if (this.options.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.pingClients(), this.options.pingIntervalMs)
      this.pingTimer.unref()
    }
  }

  subscribe(subject: string, handler: MessageHandler, options: { queue?: string } = {}): Subscription {
    const sub = new InProcessSubscription(this, subject, options.queue ?? '', handler)
    if (!this.index.insert(subject, sub.queue, sub)) throw new Error(`Invalid subject: '${subject}'`)
    return sub
  }

  publish(subject: string, data: Uint8Array, reply = ''): number {
    // No check of the subject here: it is often a reply subject a client chose, and one that is
    // not valid simply matches no subscriber, as in gnatsd.
    const payload = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    return this.route(subject, reply, payload, 0, undefined)
  }

  stats(): NatsServerStats {
    return { connections: this.connections.size, subscriptions: this.index.size, ...this.counters }
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      clearInterval(this.pingTimer)
      this.listener.close(() => resolve())
      for (const connection of [...this.connections]) connection.close('server shutdown')
      for (const socket of this.sockets) socket.destroy()
    })
    return this.closing
  }

  /** Returns how many subscribers got the message. */
  route(subject: string, reply: string, payload: Buffer, headerSize: number, origin: ClientConnection | undefined): number {
    const counters = this.counters
    counters.inMsgs++
    counters.inBytes += payload.length
    const { plain, groups } = this.index.match(subject)
    const noEcho = origin !== undefined && !origin.options.echo
    let delivered = 0
    for (const sub of plain) {
      if (noEcho && sub.owner === origin) continue
      sub.deliver(subject, reply, payload, headerSize)
      delivered++
    }
    for (const group of groups) {
      const members = noEcho ? group.filter((sub) => sub.owner !== origin) : group
      if (members.length === 0) continue
      // A random member, as gnatsd picks.
      members[Math.floor(Math.random() * members.length)]!.deliver(subject, reply, payload, headerSize)
      delivered++
    }
    counters.outMsgs += delivered
    counters.outBytes += delivered * payload.length
    if (delivered === 0 && reply !== '' && origin?.options.noResponders === true) this.noResponders(reply, origin)
    return delivered
  }

  /** A request no one received: the requester hears it at once on its own reply subscription (as gnatsd). */
  private noResponders(reply: string, origin: ClientConnection): void {
    const own = this.index.match(reply).plain.find((sub) => sub.owner === origin)
    if (own instanceof ClientSubscription) origin.sendNoResponders(reply, own.sid)
  }

  addSubscription(subject: string, sub: ClientSubscription): boolean {
    return this.index.insert(subject, sub.queue, sub)
  }

  removeSubscription(subject: string, sub: Subscriber): void {
    this.index.remove(subject, sub.queue, sub)
  }

  scheduleFlush(connection: ClientConnection): void {
    this.toFlush.push(connection)
    if (this.toFlush.length === 1) setImmediate(() => this.flushAll())
  }

  connectionClosed(connection: ClientConnection, reason: CloseReason): void {
    this.connections.delete(connection)
    if (reason === 'slow consumer') this.counters.slowConsumers++
  }

  private flushAll(): void {
    const batch = this.toFlush
    this.toFlush = []
    for (const connection of batch) connection.flush()
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    if (this.connections.size >= this.options.maxConnections) {
      socket.on('error', () => {})
      socket.end(`-ERR 'maximum connections exceeded'\r\n`)
      return
    }
    const id = ++this.counters.totalConnections
    const connection = new ClientConnection(id, socket, this)
    this.connections.add(connection)
    connection.start(this.info(id, socket))
  }

  private info(clientId: number, socket: Socket): string {
    return JSON.stringify({
      server_id: this.serverId,
      server_name: this.serverId,
      version: SERVER_VERSION,
      proto: 1,
      go: `node${process.versions.node}`,
      host: this.host,
      port: this.port,
      headers: true,
      max_payload: this.options.maxPayload,
      client_id: clientId,
      client_ip: socket.remoteAddress ?? '',
    })
  }

  private pingClients(): void {
    for (const connection of [...this.connections]) connection.ping()
  }
}

/** nats-server ids look like public nkeys: 'N' and 55 base32 characters. */
function newServerId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let id = 'N'
  for (const byte of randomBytes(55)) id += alphabet[byte & 31]
  return id
}
