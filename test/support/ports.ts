import { createServer, type Server } from 'node:net'

/**
 * The free-port helper of the tests, the benchmarks and the reliability suite: a free loopback port, fit too for a
 * server that must come back on the same port after a stop or a kill. Chosen below Linux's
 * ephemeral range (32768 and up): a port the kernel hands out (port 0) can be taken by any outgoing connection of
 * another test while the server is down, and the restart then fails with EADDRINUSE.
 */
export async function restartablePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await canListen(port)) return port
  }
}

/** True when nothing listens on 127.0.0.1:`port`. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** Another program's listener on 127.0.0.1 (a NATS server of another project, say): its port, and how to close it. */
export async function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('no port bound')
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

/** A loopback port nothing listens on (just released by a listener of ours): connections to it are refused. */
export async function refusingPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
