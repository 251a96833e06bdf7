/**
 * The NATS layer under the streaming server, seen by a current NATS client (@nats-io/transport-node,
 * which asks for headers and "no responders" as nats.go does): message headers, and a request
 * that no one can receive failing at once instead of timing out.
 */
import { connect as natsConnect, headers, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { brokerForSuite, unique } from './broker.js'

/** Far longer than any answer takes: a request that reaches this bound has failed the test. */
const REQUEST_TIMEOUT_MS = 10_000

describe('Headers and no responders', () => {
  const broker = brokerForSuite()
  let nc: NatsConnection
  beforeAll(async () => {
    nc = await natsConnect({ servers: broker.url, reconnect: false })
  })
  afterAll(() => nc.close())

  it('When a client connects, then the server says it supports headers', () => {
    expect(nc.info?.headers).toBe(true)
  })

  it('When a message is published with headers, then a subscriber gets the headers and the data', async () => {
    const subject = unique('with-headers')
    const sub = nc.subscribe(subject, { max: 1 })
    const received = (async () => {
      for await (const msg of sub) return msg
      throw new Error('the subscription ended without a message')
    })()
    await nc.flush()
    const h = headers()
    h.set('Order-Source', 'go-publisher')
    h.append('Trace', 'a')
    h.append('Trace', 'b')
    nc.publish(subject, 'payload', { headers: h })
    const msg = await received
    expect(msg.string()).toBe('payload')
    expect(msg.headers?.get('Order-Source')).toBe('go-publisher')
    expect(msg.headers?.values('Trace')).toEqual(['a', 'b'])
  })

  it('When a request goes to a subject no one subscribes to, then it fails at once with no responders', async () => {
    const failure = await nc.request(unique('nobody'), 'x', { timeout: REQUEST_TIMEOUT_MS }).catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(Error)
    expect((failure as { isNoResponders?: () => boolean }).isNoResponders?.()).toBe(true)
  })

  it('When a streaming connect request names an unknown cluster, then it fails at once with no responders, and the known cluster answers', async () => {
    const failure = await nc.request(`_STAN.discover.${unique('nowhere')}`, 'x', { timeout: REQUEST_TIMEOUT_MS }).catch((err: unknown) => err)
    expect((failure as { isNoResponders?: () => boolean }).isNoResponders?.()).toBe(true)
    // The streaming server listens on its own cluster's subject: a malformed connect request gets its answer there.
    const answer = await nc.request(`_STAN.discover.${broker.clusterId}`, 'x', { timeout: REQUEST_TIMEOUT_MS })
    expect(answer.data.length).toBeGreaterThan(0)
  })
})
