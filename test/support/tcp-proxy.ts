import { EventEmitter, once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * The TCP proxy of the tests and the reliability suite. It forwards every connection to the target until told to
 * freeze; then it forwards nothing in either direction and closes nothing, until thawed: what a hung dependency
 * looks like from the client (a hung server, a partition, a failover behind a virtual IP: no FIN, no RST). Never
 * frozen, it is a plain forwarder: a second address for one server, which `close` takes away as a dead node would.
 */
export interface FreezingProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number
  /** Connections open now (client side). */
  readonly openConnections: number
  /** Connections accepted so far, frozen or not. */
  readonly acceptedConnections: number
  /**
   * Stops forwarding on every open connection. Connections made while frozen pass when `newConnections` is
   * 'pass' (the default: only the old connections are dead, as after a failover), or freeze too when 'freeze'.
   */
  freeze(options?: { newConnections?: 'pass' | 'freeze' }): void
  /** Forwards again, what was held first: nothing was lost or closed meanwhile. */
  thaw(): void
  /** Resolves when the proxy has accepted `count` connections in all (counting from its start). */
  accepted(count: number): Promise<void>
  /** Closes every connection and the listener. */
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket
  frozen: boolean
  /** One side closed while frozen: passed on at thaw, as the close would have arrived then. */
  closedWhileFrozen: boolean
  /** Bytes read while frozen, per direction, forwarded on thaw. */
  held: { toUpstream: Buffer[]; toClient: Buffer[] }
}

/** `port`: the proxy's own, say the one a closed proxy had (0, the default: any free one). */
export async function startFreezingProxy(target: { host?: string; port: number }, options: { port?: number } = {}): Promise<FreezingProxy> {
  const host = target.host ?? '127.0.0.1'
  const pairs = new Set<Pair>()
  const events = new EventEmitter()
  let accepted = 0
  /** Whether a connection accepted now starts frozen. */
  let freezeNew = false

  const server: Server = createServer((client) => {
    const upstream = connect(target.port, host)
    const pair: Pair = { client, upstream, frozen: freezeNew, closedWhileFrozen: false, held: { toUpstream: [], toClient: [] } }
    pairs.add(pair)
    accepted++
    events.emit('accepted', accepted)
    forward(pair, client, upstream, pair.held.toUpstream)
    forward(pair, upstream, client, pair.held.toClient)
    const end = () => {
      // A close does not cross a frozen connection either: the other side learns nothing until the thaw.
      if (pair.frozen) {
        pair.closedWhileFrozen = true
        return
      }
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    // An error on either side ends the pair, as a plain connection would end; the other side sees it closed.
    client.on('error', end)
    upstream.on('error', end)
    if (pair.frozen) {
      client.pause()
      upstream.pause()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    port,
    get openConnections() {
      return pairs.size
    },
    get acceptedConnections() {
      return accepted
    },
    freeze(options = {}) {
      freezeNew = options.newConnections === 'freeze'
      for (const pair of pairs) {
        pair.frozen = true
        // Paused sockets stop reading: the sender's buffers fill and it blocks, as with a peer that is gone.
        pair.client.pause()
        pair.upstream.pause()
      }
    },
    thaw() {
      freezeNew = false
      for (const pair of pairs) {
        if (!pair.frozen) continue
        pair.frozen = false
        for (const chunk of pair.held.toUpstream.splice(0)) pair.upstream.write(chunk)
        for (const chunk of pair.held.toClient.splice(0)) pair.client.write(chunk)
        pair.client.resume()
        pair.upstream.resume()
        if (pair.closedWhileFrozen) {
          pairs.delete(pair)
          pair.client.end()
          pair.upstream.end()
        }
      }
    },
    async accepted(count) {
      while (accepted < count) await once(events, 'accepted')
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      pairs.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Copies from one side to the other while the pair is not frozen; holds what is read meanwhile (a chunk in transit). */
function forward(pair: Pair, from: Socket, to: Socket, held: Buffer[]): void {
  from.on('data', (chunk: Buffer) => {
    if (pair.frozen) held.push(chunk)
    else to.write(chunk)
  })
}

/** The proxy as a plain forwarder in front of a NATS server: its address as a client's URL, and the connections it pipes. */
export interface TcpProxy extends FreezingProxy {
  url: string
  /** Connections piped now. */
  connections(): number
}

export async function startTcpProxy(target: { host?: string; port: number }, port = 0): Promise<TcpProxy> {
  const proxy = await startFreezingProxy(target, { port })
  return Object.assign(proxy, { url: `nats://127.0.0.1:${proxy.port}`, connections: () => proxy.openConnections })
}
