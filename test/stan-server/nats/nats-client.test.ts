import { createRequire } from 'node:module'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Client } from 'nats'
import { startNatsServer, type NatsServer } from '../../../src/stan-server/nats/server.js'

// nats v1 is CommonJS, the client node-nats-streaming 0.3 is built on.
const NATS = createRequire(import.meta.url)('nats') as typeof import('nats')

describe('NATS server with the nats v1 client', () => {
  let server: NatsServer
  const clients: Client[] = []

  async function connect(): Promise<Client> {
    const nc = NATS.connect({ url: server.url, maxReconnectAttempts: 0 })
    clients.push(nc)
    await new Promise<void>((resolve, reject) => {
      nc.once('connect', () => resolve())
      nc.once('error', reject)
    })
    return nc
  }

  function flush(nc: Client): Promise<void> {
    return new Promise((resolve) => nc.flush(() => resolve()))
  }

  beforeEach(async () => {
    server = await startNatsServer({ port: 0 })
  })

  afterEach(async () => {
    for (const nc of clients.splice(0)) nc.close()
    await server.close()
  })

  it('When one client serves requests, then another gets each reply through its inbox', async () => {
    const service = await connect()
    service.subscribe('greet', (msg: string, reply: string) => service.publish(reply, `hello ${msg}`))
    await flush(service)
    const caller = await connect()
    const replies = await Promise.all(
      ['ann', 'bob', 'cy'].map(
        (name) => new Promise((resolve) => caller.requestOne('greet', name, {}, 1000, (reply: unknown) => resolve(reply))),
      ),
    )
    expect(replies).toEqual(['hello ann', 'hello bob', 'hello cy'])
  })

  it('When an in-process handler answers a request, then the client gets the reply', async () => {
    server.subscribe('_STAN.discover.test-cluster', (msg) => {
      server.publish(msg.reply, Buffer.concat([Buffer.from('ack:'), msg.data]))
    })
    const caller = await connect()
    const reply = await new Promise((resolve) => caller.request('_STAN.discover.test-cluster', 'hi', { max: 1 }, resolve))
    expect(reply).toBe('ack:hi')
  })

  it('When many clients publish at once, then a wildcard subscriber gets every message', async () => {
    const subscriber = await connect()
    const perClient = 50
    const publishers = await Promise.all(Array.from({ length: 40 }, () => connect()))
    const total = publishers.length * perClient
    const seen = new Set<string>()
    const allSeen = new Promise<void>((resolve) => {
      subscriber.subscribe('load.>', (msg: string) => {
        seen.add(msg)
        if (seen.size === total) resolve()
      })
    })
    await flush(subscriber)
    publishers.forEach((nc, i) => {
      for (let j = 0; j < perClient; j++) nc.publish(`load.${i}`, `${i}-${j}`)
    })
    await allSeen
    expect(seen.size).toBe(total)
    expect(server.stats().connections).toBe(publishers.length + 1)
  })

  it('When a client publishes binary data with preserveBuffers, then it arrives byte for byte', async () => {
    const nc = NATS.connect({ url: server.url, preserveBuffers: true, maxReconnectAttempts: 0 })
    clients.push(nc)
    await new Promise((resolve) => nc.once('connect', resolve))
    const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256))
    const got = new Promise<Buffer>((resolve) => nc.subscribe('bin', (msg: Buffer) => resolve(msg)))
    nc.publish('bin', data)
    expect(Buffer.compare(await got, data)).toBe(0)
  })
})
