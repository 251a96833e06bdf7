/** Registered clients, by client ID and by connection ID (the real server's clientStore). */
import type { Subscription } from './subscription.js'

export interface ClientInfo {
  readonly id: string
  readonly hbInbox: string
  /** The connection ID as a latin1 string ('' for clients that send none). */
  readonly connId: string
  readonly protocol: number
  readonly pingInterval: number
  readonly pingMaxOut: number
}

export class Client {
  readonly subs = new Set<Subscription>()
  heartbeatTimer: NodeJS.Timeout | undefined
  failedHeartbeats = 0

  constructor(readonly info: ClientInfo) {}

  get id(): string {
    return this.info.id
  }
}

export class ClientRegistry {
  private readonly byId = new Map<string, Client>()
  private readonly byConnId = new Map<string, Client>()

  get size(): number {
    return this.byId.size
  }

  /** Undefined when the ID is taken. */
  register(info: ClientInfo): Client | undefined {
    if (this.byId.has(info.id)) return undefined
    const client = new Client(info)
    this.byId.set(info.id, client)
    if (info.connId !== '') this.byConnId.set(info.connId, client)
    return client
  }

  unregister(id: string): Client | undefined {
    const client = this.byId.get(id)
    if (client === undefined) return undefined
    if (client.heartbeatTimer !== undefined) clearTimeout(client.heartbeatTimer)
    client.heartbeatTimer = undefined
    this.byId.delete(id)
    if (client.info.connId !== '') this.byConnId.delete(client.info.connId)
    return client
  }

  lookup(id: string): Client | undefined {
    return this.byId.get(id)
  }

  lookupByConnId(connId: string): Client | undefined {
    return this.byConnId.get(connId)
  }

  /** As the real server: by connection ID when the message carries one, else by client ID. */
  isValid(id: string, connId: string): boolean {
    return (connId !== '' ? this.byConnId.get(connId) : this.byId.get(id)) !== undefined
  }

  all(): IterableIterator<Client> {
    return this.byId.values()
  }
}
