import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startNatsServer, type InboundMessage, type NatsServer } from '../../../src/stan-server/nats/server.js'
import { RawClient } from './raw-client.js'

const CONNECT = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'

describe('NATS server over raw TCP', () => {
  let server: NatsServer
  const clients: RawClient[] = []

  async function client(connectLine = CONNECT): Promise<RawClient> {
    const { client } = await RawClient.connect(server.port)
    clients.push(client)
    client.send(connectLine)
    return client
  }

  beforeEach(async () => {
    server = await startNatsServer({ port: 0, maxPayload: 1024 })
  })

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await server.close()
  })

  it('When a client connects, then it gets an INFO a nats client accepts, and PING gets PONG', async () => {
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`)
    expect(server.port).toBeGreaterThan(0)
    const { client, info } = await RawClient.connect(server.port)
    clients.push(client)
    expect(info).toMatchObject({ proto: 1, headers: true, max_payload: 1024, host: '127.0.0.1', port: server.port })
    expect(info['server_id']).toMatch(/^N[A-Z2-7]{55}$/)
    expect(info['version']).toMatch(/^2\.\d+\.\d+$/)
    expect(info).not.toHaveProperty('tls_required')
    client.send(CONNECT + 'PING\r\n')
    expect(await client.line()).toBe('PONG')
  })

  it('When the client asked for verbose mode, then CONNECT, SUB, PUB and UNSUB each get +OK and PING only PONG', async () => {
    const c = await client('CONNECT {"verbose":true,"pedantic":false,"protocol":1}\r\n')
    c.send('SUB foo 1\r\nPUB bar 0\r\n\r\nUNSUB 1\r\nPING\r\n')
    const lines = [await c.line(), await c.line(), await c.line(), await c.line(), await c.line()]
    expect(lines).toEqual(['+OK', '+OK', '+OK', '+OK', 'PONG'])
  })

  it('When a client publishes, then a subscriber gets MSG with its sid, the reply subject and the exact bytes', async () => {
    const sub = await client()
    sub.send('SUB orders.created 7\r\n')
    await sub.roundTrip()
    const pub = await client()
    const payload = Buffer.from([0, 13, 10, 255, 77, 83, 71, 32, 13, 10])
    pub.send(Buffer.concat([Buffer.from(`PUB orders.created _INBOX.r1 ${payload.length}\r\n`), payload, Buffer.from('\r\n')]))
    pub.send('PUB orders.created 2\r\nhi\r\n')
    expect(await sub.msg()).toEqual({ subject: 'orders.created', sid: '7', reply: '_INBOX.r1', payload })
    expect(await sub.msg()).toEqual({ subject: 'orders.created', sid: '7', reply: '', payload: Buffer.from('hi') })
  })

  it('When subscribers use `*` and `>`, then each gets exactly the subjects its pattern covers', async () => {
    const sub = await client()
    sub.send('SUB orders.* star\r\nSUB orders.> rest\r\nSUB *.created first\r\n')
    await sub.roundTrip()
    const pub = await client()
    for (const subject of ['orders.created', 'orders.eu.created', 'orders', 'users.created']) {
      pub.send(`PUB ${subject} 0\r\n\r\n`)
    }
    await pub.roundTrip()
    const got = (await sub.msgsUntilPong()).map((m) => `${m.sid}:${m.subject}`).sort()
    expect(got).toEqual(['first:orders.created', 'first:users.created', 'rest:orders.created', 'rest:orders.eu.created', 'star:orders.created'])
  })

  it('When subscribers share a queue group, then each message goes to exactly one of them, and plain subscribers get all', async () => {
    const members = [await client(), await client(), await client()]
    for (const m of members) m.send('SUB jobs workers 1\r\n')
    const watcher = await client()
    watcher.send('SUB jobs 1\r\n')
    for (const c of [...members, watcher]) await c.roundTrip()
    const pub = await client()
    for (let i = 0; i < 30; i++) pub.send(`PUB jobs ${String(i).length}\r\n${i}\r\n`)
    await pub.roundTrip()
    const received = (await Promise.all(members.map((m) => m.msgsUntilPong()))).flat().map((m) => Number(m.payload.toString()))
    expect(received.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(await watcher.msgsUntilPong()).toHaveLength(30)
  })

  it('When a client unsubscribes with a max, then it gets that many messages in total and no more', async () => {
    const sub = await client()
    sub.send('SUB ticks 1\r\nUNSUB 1 3\r\n')
    await sub.roundTrip()
    const pub = await client()
    for (let i = 0; i < 5; i++) pub.send('PUB ticks 1\r\nx\r\n')
    await pub.roundTrip()
    expect(await sub.msgsUntilPong()).toHaveLength(3)
    expect(server.stats().subscriptions).toBe(0)
  })

  it('When a client unsubscribes, then it gets nothing more on that sid', async () => {
    const sub = await client()
    sub.send('SUB a 1\r\nSUB a 2\r\nUNSUB 1\r\n')
    await sub.roundTrip()
    const pub = await client()
    pub.send('PUB a 0\r\n\r\n')
    await pub.roundTrip()
    expect((await sub.msgsUntilPong()).map((m) => m.sid)).toEqual(['2'])
  })

  // The exchanges below were recorded from nats-server 2.9.10 with the same bytes sent.
  const WITH_HEADERS = 'CONNECT {"verbose":false,"protocol":1,"headers":true,"no_responders":true}\r\n'

  it('When a message has headers, then a client that asked for headers gets HMSG with the exact bytes and one that did not gets MSG with the data only', async () => {
    const reader = await client(WITH_HEADERS)
    reader.send('SUB foo 1\r\n')
    const old = await client()
    old.send('SUB foo 2\r\n')
    await reader.roundTrip()
    await old.roundTrip()
    const pub = await client(WITH_HEADERS)
    pub.send('HPUB foo r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\nHPUB foo 0 3\r\nabc\r\n')
    await pub.roundTrip()
    expect(await reader.textUntilPong()).toBe('HMSG foo 1 r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\nMSG foo 1 3\r\nabc\r\n')
    expect(await old.textUntilPong()).toBe('MSG foo 2 r 5\r\nhello\r\nMSG foo 2 3\r\nabc\r\n')
  })

  it('When a message has headers, then an in-process subscriber gets its data without them', async () => {
    const got: string[] = []
    server.subscribe('foo', (msg) => got.push(msg.data.toString()))
    const pub = await client(WITH_HEADERS)
    pub.send('HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n')
    await pub.roundTrip()
    expect(got).toEqual(['hello'])
  })

  it('When a request finds no subscriber, then a client that asked for no_responders gets a 503 status message on its reply subscription, and one that did not gets nothing', async () => {
    const requester = await client(WITH_HEADERS)
    requester.send('SUB _INBOX.a.* 9\r\nPUB nothing _INBOX.a.x 1\r\nz\r\nPUB nothing _INBOX.elsewhere 1\r\nz\r\n')
    expect(await requester.textUntilPong()).toBe('HMSG _INBOX.a.x 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n')
    const old = await client()
    old.send('SUB _INBOX.b.* 9\r\nPUB nothing _INBOX.b.x 1\r\nz\r\n')
    expect(await old.textUntilPong()).toBe('')
  })

  it('When a client asks for no_responders without headers, then it gets -ERR and is disconnected', async () => {
    const c = await client('CONNECT {"verbose":false,"protocol":1,"no_responders":true}\r\n')
    expect(await c.line()).toBe("-ERR 'no responders requires headers support'")
    await c.closed
  })

  it('When a client that did not ask for headers sends HPUB, then it is disconnected without -ERR', async () => {
    const c = await client()
    c.send('HPUB foo 0 3\r\nabc\r\nPING\r\n')
    await c.closed
    expect(await c.textUntilPong().catch((err: unknown) => String(err))).toMatch(/connection closed; unread: $/)
  })

  it('When a client publishes more than max_payload, then it gets -ERR Maximum Payload Violation and is disconnected', async () => {
    const c = await client()
    c.send(`PUB big 1025\r\n${'x'.repeat(1025)}\r\n`)
    expect(await c.line()).toBe("-ERR 'Maximum Payload Violation'")
    await c.closed
  })

  it('When a client sends an unknown operation, then it gets -ERR Unknown Protocol Operation and is disconnected', async () => {
    const c = await client()
    c.send('HELLO world\r\n')
    expect(await c.line()).toBe("-ERR 'Unknown Protocol Operation'")
    await c.closed
  })

  it('When a client sends malformed PUB arguments, then it is disconnected without an error line, as gnatsd does', async () => {
    const c = await client()
    c.send('PUB onlysubject\r\n')
    await c.closed
    expect(c.bytesReceived).toBeGreaterThan(0) // just the INFO
  })

  it('When a client subscribes to an invalid subject, then it gets -ERR Invalid Subject and stays connected', async () => {
    const c = await client()
    c.send('SUB foo..bar 1\r\n')
    expect(await c.line()).toBe("-ERR 'Invalid Subject'")
    await c.roundTrip()
    expect(server.stats().subscriptions).toBe(0)
  })

  it('When a pedantic client publishes to a wildcard subject, then it gets -ERR Invalid Publish Subject and stays connected', async () => {
    const c = await client('CONNECT {"verbose":false,"pedantic":true,"protocol":1}\r\n')
    c.send('PUB foo.* 0\r\n\r\n')
    expect(await c.line()).toBe("-ERR 'Invalid Publish Subject'")
    await c.roundTrip()
  })

  it('When a client asks for an unknown protocol version, then it gets -ERR and is disconnected', async () => {
    const c = await client('CONNECT {"protocol":2}\r\n')
    expect(await c.line()).toBe("-ERR 'invalid client protocol'")
    await c.closed
  })

  it('When a client connected with echo false, then it does not get its own messages but others do', async () => {
    const quiet = await client('CONNECT {"echo":false,"protocol":1}\r\n')
    const other = await client()
    quiet.send('SUB e 1\r\n')
    other.send('SUB e 1\r\n')
    await quiet.roundTrip()
    await other.roundTrip()
    quiet.send('PUB e 0\r\n\r\n')
    await quiet.roundTrip()
    expect(await quiet.msgsUntilPong()).toHaveLength(0)
    expect(await other.msgsUntilPong()).toHaveLength(1)
  })

  it('When in-process code subscribes and publishes, then it exchanges messages with clients, queue groups included', async () => {
    const seen: { subject: string; reply: string; data: string }[] = []
    const keep = (msg: InboundMessage) => seen.push({ subject: msg.subject, reply: msg.reply, data: msg.data.toString() })
    server.subscribe('svc.>', keep)
    const grouped: string[] = []
    server.subscribe('work', (m) => grouped.push(`in:${m.data}`), { queue: 'q' })
    const c = await client()
    c.send('SUB work q 9\r\nSUB replies 5\r\n')
    await c.roundTrip()
    const pub = await client()
    pub.send('PUB svc.echo replies 4\r\nping\r\n')
    for (let i = 0; i < 20; i++) pub.send(`PUB work 1\r\n${i % 10}\r\n`)
    await pub.roundTrip()
    expect(seen).toEqual([{ subject: 'svc.echo', reply: 'replies', data: 'ping' }])
    server.publish('replies', Buffer.from('pong'))
    server.publish('nobody.listens', new Uint8Array([1, 2]))
    const msgs = await c.msgsUntilPong()
    const toClient = msgs.filter((m) => m.sid === '9').length
    expect(toClient + grouped.length).toBe(20)
    expect(msgs.filter((m) => m.sid === '5').map((m) => m.payload.toString())).toEqual(['pong'])
  })

  it('When an in-process subscription is removed, then its handler is no longer called', async () => {
    let calls = 0
    const sub = server.subscribe('x', () => calls++)
    server.publish('x', Buffer.alloc(0))
    sub.unsubscribe()
    server.publish('x', Buffer.alloc(0))
    expect(calls).toBe(1)
    expect(server.stats().subscriptions).toBe(0)
  })

  it('When in-process code publishes to a subject that is not valid, such as a bad reply subject, then nobody gets it and nothing throws', async () => {
    let calls = 0
    server.subscribe('>', () => calls++)
    server.publish('bad..reply', Buffer.from('x'))
    server.publish('', Buffer.from('x'))
    expect(calls).toBe(0)
  })

  it('When the server is at maxConnections, then a further client gets -ERR and is closed', async () => {
    await server.close()
    server = await startNatsServer({ port: 0, maxConnections: 1 })
    await client()
    const extra = await import('node:net').then(({ connect }) => connect(server.port, '127.0.0.1'))
    const text = await new Promise<string>((resolve) => {
      let all = ''
      extra.on('data', (d) => (all += d.toString()))
      extra.on('close', () => resolve(all))
    })
    expect(text).toBe("-ERR 'maximum connections exceeded'\r\n")
  })

  it('When a client leaves the server PINGs unanswered, then it gets -ERR Stale Connection and is disconnected', async () => {
    await server.close()
    server = await startNatsServer({ port: 0, pingIntervalMs: 10, maxPingsOut: 2 })
    const c = await client()
    expect([await c.line(), await c.line(), await c.line()]).toEqual(['PING', 'PING', "-ERR 'Stale Connection'"])
    await c.closed
  })

  it('When the server closes, then its clients are disconnected and close resolves', async () => {
    const a = await client()
    const b = await client()
    await a.roundTrip()
    await server.close()
    await Promise.all([a.closed, b.closed])
    expect(server.stats().connections).toBe(0)
  })
})
