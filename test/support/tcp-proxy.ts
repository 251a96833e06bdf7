import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A second address for one server: a TCP proxy on a port of its own that pipes every connection to `target`.
 * The embedded broker is not clustered; two proxies in front of it are two "nodes" whose addresses can go away
 * one at a time (`close` drops the listener and every connection through it, as a dead node would).
 */
export interface TcpProxy {
  url: string
  port: number
  /** Connections piped now. */
  connections(): number
  /** Stops listening and destroys every connection through it. */
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const clients = new Set<Socket>()
  const server: Server = createServer((client) => {
    clients.add(client)
    client.on('close', () => clients.delete(client))
    const upstream = createConnection(target)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      // Either end failing ends both; the peer sees a closed connection, as with a dead node.
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const bound = (server.address() as { port: number }).port
  return {
    url: `nats://127.0.0.1:${bound}`,
    port: bound,
    connections: () => clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}
