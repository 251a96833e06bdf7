import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startFreezingProxy, startTcpProxy, type FreezingProxy } from './tcp-proxy.js'

/** An echo server: what a client sends comes back. */
let echo: Server
let proxy: FreezingProxy
const clients: Socket[] = []

/** The echo server's side of each connection. */
let served: Socket[] = []

beforeEach(async () => {
  served = []
  echo = createServer((socket) => {
    served.push(socket)
    socket.pipe(socket)
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  const address = echo.address()
  proxy = await startFreezingProxy({ port: typeof address === 'object' && address !== null ? address.port : 0 })
})

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy()
  await proxy.close()
  await new Promise<void>((resolve) => echo.close(() => resolve()))
})

async function open(): Promise<Socket> {
  const client = connect(proxy.port, '127.0.0.1')
  clients.push(client)
  await once(client, 'connect')
  return client
}

async function roundTrip(client: Socket, text: string): Promise<string> {
  client.write(text)
  const [chunk] = (await once(client, 'data')) as [Buffer]
  return chunk.toString()
}

/** Resolves with what arrives, or 'nothing' once a round trip on `witness` shows the proxy had the time to forward it. */
async function nothingArrives(client: Socket, witness: Socket): Promise<string> {
  let received = ''
  client.on('data', (chunk: Buffer) => (received += chunk.toString()))
  // A round trip through the same proxy and echo server, sent after: had the frozen bytes been forwarded, they would be back first.
  await roundTrip(witness, 'witness')
  await roundTrip(witness, 'witness again')
  return received === '' ? 'nothing' : received
}

describe('freezing proxy', () => {
  it('When not frozen, then it forwards both ways', async () => {
    const client = await open()
    expect(await roundTrip(client, 'hello')).toBe('hello')
  })

  it('When frozen, then nothing passes either way and nothing is closed; new connections pass; on thaw the held bytes arrive', async () => {
    const client = await open()
    expect(await roundTrip(client, 'before')).toBe('before')
    let closed = false
    client.on('close', () => (closed = true))

    proxy.freeze()
    client.write('during')
    const fresh = await open()
    expect(await nothingArrives(client, fresh)).toBe('nothing')
    expect(closed).toBe(false)
    expect(proxy.openConnections).toBe(2)

    const arrived = once(client, 'data')
    proxy.thaw()
    expect(String((await arrived)[0])).toBe('during')
    expect(await roundTrip(client, 'after')).toBe('after')
  })

  it("When frozen with newConnections 'freeze', then a new connection is accepted but forwards nothing until thawed", async () => {
    proxy.freeze({ newConnections: 'freeze' })
    const frozen = await open()
    await proxy.accepted(1)
    frozen.write('held')
    // A direct connection to the echo server: the proxy's frozen bytes, had they been sent, would have been echoed first.
    const address = echo.address()
    const direct = connect(typeof address === 'object' && address !== null ? address.port : 0, '127.0.0.1')
    clients.push(direct)
    await once(direct, 'connect')
    expect(await nothingArrives(frozen, direct)).toBe('nothing')

    const arrived = once(frozen, 'data')
    proxy.thaw()
    expect(String((await arrived)[0])).toBe('held')
  })
  it('When a client closes its frozen connection, then the server side learns nothing until the thaw', async () => {
    const client = await open()
    expect(await roundTrip(client, 'before')).toBe('before')
    const [server] = served
    let serverSawEnd = false
    server!.on('end', () => (serverSawEnd = true))
    proxy.freeze()
    client.destroy()
    await once(client, 'close')
    // A new connection's round trip: had the close crossed, the server side would have seen it by now.
    const fresh = await open()
    expect(await roundTrip(fresh, 'witness')).toBe('witness')
    expect(serverSawEnd).toBe(false)
    const ended = once(server!, 'end')
    proxy.thaw()
    await ended
  })

  it('When closed, then its connections end; started again on its port, it forwards there again (a node gone, then back)', async () => {
    const target = { port: (echo.address() as { port: number }).port }
    const forwarder = await startTcpProxy(target)
    const client = connect(forwarder.port, '127.0.0.1')
    clients.push(client)
    await once(client, 'connect')
    expect(await roundTrip(client, 'first')).toBe('first')
    expect(forwarder.connections()).toBe(1)

    const closed = once(client, 'close')
    await forwarder.close()
    await closed
    const again = await startTcpProxy(target, forwarder.port)
    try {
      const back = connect(again.port, '127.0.0.1')
      clients.push(back)
      await once(back, 'connect')
      expect(await roundTrip(back, 'again')).toBe('again')
      expect([again.url, again.connections()]).toEqual([`nats://127.0.0.1:${forwarder.port}`, 1])
    } finally {
      await again.close()
    }
  })
})
