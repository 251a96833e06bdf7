import { describe, expect, it } from 'vitest'
import { brokerForSuite, close, connect, publish, unique, type Stan } from './broker.js'

describe('Connections', () => {
  const broker = brokerForSuite()

  it('When a client connects and closes, then it can publish in between and connect again with the same ID', async () => {
    const id = unique('conn')
    const sc = await connect(broker, id)
    await expect(publish(sc, unique('ch'), 'hello')).resolves.toMatch(/.+/)
    await close(sc)
    const again = await connect(broker, id)
    await close(again)
  })

  it('When a client ID is in use by a live client, then a second connect is refused with the real server error', async () => {
    const id = unique('dup')
    const first = await connect(broker, id)
    await expect(connect(broker, id)).rejects.toThrow('stan: clientID already registered')
    // The first connection is unaffected.
    await expect(publish(first, unique('ch'), 'still here')).resolves.toMatch(/.+/)
    await close(first)
  })

  it('When a client ID has invalid characters, then connect is refused', async () => {
    await expect(connect(broker, 'bad.id')).rejects.toThrow(
      'stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed',
    )
  })

  it('When the cluster ID is unknown, then connect times out', async () => {
    // node-nats-streaming's NATS client (nats v1) does not ask for "no responders", so it waits, on the real server
    // too; clients that ask (nats.go, nats.js) fail at once: see headers.test.ts.
    await expect(connect({ ...broker, clusterId: unique('nowhere') }, unique('c'), { connectTimeout: 300 })).rejects.toThrow(
      'stan: connect request timeout',
    )
  })

  it('When the registered client stops answering heartbeats, then a new connection with its ID takes over and the old one is told it is lost', async () => {
    const id = unique('takeover')
    const old = await connect(broker, id, { stanPingInterval: 100, stanMaxPingOut: 50 })
    // Simulate a hung process: it stops answering the server's heartbeats.
    const internals = old as unknown as { nc: { unsubscribe(sid: number): void }; hbSubscription: number }
    internals.nc.unsubscribe(internals.hbSubscription)
    const lost = new Promise<string>((resolve) => old.once('connection_lost', (err: unknown) => resolve(String(err))))

    const replacement: Stan = await connect(broker, id)
    expect(await lost).toContain('client has been replaced or is no longer registered')
    await expect(publish(replacement, unique('ch'), 'new owner')).resolves.toMatch(/.+/)
    await close(replacement)
  })
})
