import { setImmediate as nextTick } from 'node:timers/promises'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { startNatsServer, type NatsServer } from '../../../src/stan-server/nats/server.js'
import { RawClient } from './raw-client.js'

let server: NatsServer

beforeEach(async () => {
  server = await startNatsServer({ port: 0, maxPendingBytes: 1024 * 1024 })
})

afterEach(async () => {
  await server.close()
})

it('When a subscriber stops reading, then it is dropped once its pending output passes the bound, and others carry on', async () => {
  const { client: stalled } = await RawClient.connect(server.port)
  stalled.send('CONNECT {}\r\nSUB flood 1\r\n')
  await stalled.roundTrip()
  stalled.socket.pause()

  const { client: healthy } = await RawClient.connect(server.port)
  healthy.send('CONNECT {}\r\nSUB other 1\r\n')
  await healthy.roundTrip()

  const chunk = Buffer.alloc(64 * 1024, 'x')
  let published = 0
  // Far more than the bound plus any kernel socket buffers, in case the drop never came.
  while (server.stats().slowConsumers === 0 && published < 256 * 1024 * 1024) {
    for (let i = 0; i < 16; i++) server.publish('flood', chunk)
    published += 16 * chunk.length
    await nextTick()
  }
  expect(server.stats().slowConsumers).toBe(1)
  expect(server.stats().connections).toBe(1)

  stalled.socket.resume()
  await stalled.closed
  expect(stalled.bytesReceived).toBeLessThan(published)

  server.publish('other', Buffer.from('still here'))
  expect((await healthy.msg()).payload.toString()).toBe('still here')
  await healthy.roundTrip()
  healthy.close()
})
