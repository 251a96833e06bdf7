/**
 * Client connections: connect (with the duplicate client ID check), close,
 * client PINGs and server heartbeats (the real server's connectCB, closeClient,
 * processClientPings, checkClientHealth).
 */
import type { InboundMessage, NatsServer } from '../nats/server.js'
import type { ClientRecord, Store } from '../store/types.js'
import type { Client, ClientRegistry } from './clients.js'
import { StanError } from './errors.js'
import {
  decodeCloseRequest,
  decodeConnectRequest,
  decodePing,
  encodeCloseResponse,
  encodeConnectResponse,
  encodePingResponse,
  type ConnectRequest,
} from './protocol.js'
import type { Requester } from './requester.js'
import { isValidClientId, type StanSubjects } from './subjects.js'
import type { Subscriptions } from './subscriptions.js'

const PROTOCOL_ONE = 1
const EMPTY = new Uint8Array(0)

export interface HeartbeatOptions {
  /** Interval between server heartbeats to each client (real server: 30s). */
  intervalMs: number
  /** How long a heartbeat may take to be answered (real server: 10s). */
  timeoutMs: number
  /** Failed heartbeats tolerated before the client is closed (real server: 10). */
  failCount: number
  /** How long the registered client has to answer when its ID connects again (real server: 500ms). */
  duplicateCheckMs: number
}

export class Connections {
  /** Client IDs whose duplicate check is under way: further connects are refused meanwhile. */
  private readonly checking = new Set<string>()
  private readonly pingOk = encodePingResponse()
  private readonly pingReplaced = encodePingResponse(StanError.ClientReplaced)
  private closed = false

  constructor(
    private readonly nats: NatsServer,
    private readonly store: Store,
    private readonly subjects: StanSubjects,
    private readonly clients: ClientRegistry,
    private readonly subscriptions: Subscriptions,
    private readonly requester: Requester,
    private readonly heartbeat: HeartbeatOptions,
  ) {}

  onConnectRequest(msg: InboundMessage): void {
    const req = decodeConnectRequest(msg.data)
    if (req === undefined || req.heartbeatInbox === '') return this.refuse(msg.reply, StanError.InvalidConnReq)
    if (!isValidClientId(req.clientId)) return this.refuse(msg.reply, StanError.InvalidClientID)
    const existing = this.clients.lookup(req.clientId)
    if (existing === undefined) return this.accept(req, msg.reply)
    if (this.checking.has(req.clientId)) return this.refuse(msg.reply, StanError.InvalidClient)
    // Connect requests are tiny: copying one keeps it valid past this callback.
    const reply = msg.reply
    const copy = { ...req, connId: Buffer.from(req.connId) }
    this.checking.add(req.clientId)
    void this.replaceIfGone(existing, copy, reply)
  }

  onCloseRequest(msg: InboundMessage): void {
    const req = decodeCloseRequest(msg.data)
    if (req === undefined) return this.respondClose(msg.reply, StanError.InvalidCloseReq)
    this.respondClose(msg.reply, this.closeClient(req.clientId) ? '' : StanError.UnknownClient)
  }

  onPing(msg: InboundMessage): void {
    if (msg.data.length === 0 || msg.reply === '') return
    const ping = decodePing(msg.data)
    if (ping === undefined) return
    const client = this.clients.lookupByConnId(ping.connId.toString('latin1'))
    if (client !== undefined && client.failedHeartbeats > 0) {
      // The client is alive after all: heartbeat it again soon to clear its failures.
      this.scheduleHeartbeat(client, 1)
    }
    this.nats.publish(msg.reply, client !== undefined ? this.pingOk : this.pingReplaced)
  }

  /** Unregisters the client and takes its subscriptions offline; false if unknown. */
  closeClient(clientId: string): boolean {
    const client = this.clients.unregister(clientId)
    if (client === undefined) return false
    this.store.deleteClient(clientId)
    this.subscriptions.removeAllNonDurable(client)
    return true
  }

  /** A client recovered from the store: registered as it was, and heartbeated to find out whether it is still there. */
  restore(record: ClientRecord): void {
    const client = this.clients.register({
      id: record.id, hbInbox: record.hbInbox, connId: record.connId, protocol: PROTOCOL_ONE, pingInterval: 0, pingMaxOut: 0,
    })
    if (client !== undefined) this.scheduleHeartbeat(client, this.heartbeat.intervalMs)
  }

  close(): void {
    this.closed = true
    for (const client of this.clients.all()) {
      if (client.heartbeatTimer !== undefined) clearTimeout(client.heartbeatTimer)
      client.heartbeatTimer = undefined
    }
  }

  /** The ID is registered: if its holder still answers heartbeats this is a duplicate, else the new one takes over. */
  private async replaceIfGone(existing: Client, req: ConnectRequest, reply: string): Promise<void> {
    try {
      const alive = await this.requester.request(existing.info.hbInbox, EMPTY, this.heartbeat.duplicateCheckMs)
      if (this.closed) return
      if (alive) return this.refuse(reply, StanError.InvalidClient)
      if (this.clients.lookup(req.clientId) === existing) this.closeClient(req.clientId)
      this.accept(req, reply)
    } finally {
      this.checking.delete(req.clientId)
    }
  }

  private accept(req: ConnectRequest, reply: string): void {
    const client = this.clients.register({
      id: req.clientId,
      hbInbox: req.heartbeatInbox,
      connId: req.connId.toString('latin1'),
      protocol: req.protocol,
      pingInterval: req.pingInterval,
      pingMaxOut: req.pingMaxOut,
    })
    if (client === undefined) return this.refuse(reply, StanError.InvalidClient)
    this.store.addClient({ id: client.id, hbInbox: client.info.hbInbox, connId: client.info.connId })
    this.scheduleHeartbeat(client, this.heartbeat.intervalMs)
    if (reply === '') return
    const s = this.subjects
    const pings = req.protocol >= PROTOCOL_ONE
    this.nats.publish(
      reply,
      encodeConnectResponse({
        pubPrefix: s.publish,
        subRequests: s.subscribe,
        unsubRequests: s.unsubscribe,
        subCloseRequests: s.subClose,
        closeRequests: s.close,
        protocol: PROTOCOL_ONE,
        // The real server hands the client's own ping settings back.
        ...(pings ? { pingRequests: s.pings, pingInterval: req.pingInterval, pingMaxOut: req.pingMaxOut } : {}),
      }),
    )
  }

  private scheduleHeartbeat(client: Client, delayMs: number): void {
    if (client.heartbeatTimer !== undefined) clearTimeout(client.heartbeatTimer)
    client.heartbeatTimer = setTimeout(() => void this.sendHeartbeat(client), delayMs)
    client.heartbeatTimer.unref()
  }

  private async sendHeartbeat(client: Client): Promise<void> {
    client.heartbeatTimer = undefined
    const answered = await this.requester.request(client.info.hbInbox, EMPTY, this.heartbeat.timeoutMs)
    if (this.closed || this.clients.lookup(client.id) !== client) return
    const hadFailed = client.failedHeartbeats > 0
    client.failedHeartbeats = answered ? 0 : client.failedHeartbeats + 1
    if (client.failedHeartbeats > this.heartbeat.failCount) {
      this.closeClient(client.id)
      return
    }
    const hasFailed = client.failedHeartbeats > 0
    if (hadFailed !== hasFailed) for (const sub of client.subs) sub.hasFailedHeartbeat = hasFailed
    this.scheduleHeartbeat(client, this.heartbeat.intervalMs)
  }

  private refuse(reply: string, error: StanError): void {
    if (reply !== '') this.nats.publish(reply, encodeConnectResponse({ error }))
  }

  private respondClose(reply: string, error: string): void {
    if (reply !== '') this.nats.publish(reply, encodeCloseResponse(error))
  }
}
