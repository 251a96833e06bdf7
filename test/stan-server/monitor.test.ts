/**
 * The HTTP monitoring endpoints of the embedded broker, read over HTTP while
 * node-nats-streaming clients publish and subscribe. Shapes follow the real
 * server's /streaming/* documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import {
  close,
  closeSubscription,
  connect,
  publishAll,
  roundTrip,
  subscribe,
  type Inbox,
  type Stan,
} from './conformance/broker.js'
import type { Channelz, Clientz } from '../../src/stan-server/monitor/views.js'

// The shapes as the broker declares them; the tests check the values the JSON carries.
interface List { cluster_id: string; server_id: string; now: string; offset: number; limit: number; count: number; total: number }

describe('HTTP monitoring', () => {
  let server: StanServer
  let publisher: Stan
  let worker: Stan
  let durable: Inbox
  let queue: Inbox
  let audit: Inbox

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.monitorUrl}${path}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    return (await res.json()) as T
  }

  // Two clients: "pub" publishes 3 orders and 1 audit entry; "worker" holds a stalled
  // manual-ack durable, a member of a durable queue group, and a plain subscription;
  // "leaver" left an offline durable behind.
  beforeAll(async () => {
    server = await startStanServer({ port: 0, monitorPort: 0, clusterId: 'monitor-cluster' })
    publisher = await connect(server, 'pub')
    await publishAll(publisher, 'orders', ['a', 'bb', 'ccc'])
    await publishAll(publisher, 'audit', ['x'])

    const leaver = await connect(server, 'leaver')
    const left = await subscribe(leaver, 'orders', leaver.subscriptionOptions().setDurableName('gone').setDeliverAllAvailable())
    await left.count(3)
    await closeSubscription(left)
    await close(leaver)

    worker = await connect(server, 'worker')
    const all = () => worker.subscriptionOptions().setDeliverAllAvailable()
    durable = await subscribe(worker, 'orders', all().setDurableName('dur').setManualAckMode(true).setMaxInFlight(2).setAckWait(60_000))
    queue = await subscribe(worker, 'orders', all().setDurableName('qd'), 'workers')
    audit = await subscribe(worker, 'audit', all())
    await Promise.all([durable.count(2), queue.count(3), audit.count(1)])
    await roundTrip(worker) // its automatic acks have reached the server
  })
  afterAll(async () => {
    await close(worker)
    await close(publisher)
    await server.close()
  })

  it('When monitoring is not asked for, then the server has no monitoring URL', async () => {
    const plain = await startStanServer({ port: 0 })
    expect(plain.monitorUrl).toBeUndefined()
    await plain.close()
  })

  it('Should report the server with its counts of clients, channels, subscriptions, messages and traffic on /streaming/serverz', async () => {
    const serverz = await get<Record<string, unknown>>('/streaming/serverz')
    const channels = await get<List & { channels: Channelz[] }>('/streaming/channelsz?subs=1')
    const storedBytes = channels.channels.reduce((sum, c) => sum + c.bytes, 0)
    expect(serverz).toMatchObject({
      cluster_id: 'monitor-cluster',
      version: '0.25.6',
      state: 'STANDALONE',
      clients: 2,
      channels: 2,
      // orders: the durable, the queue member, the offline durable; audit: the plain one.
      subscriptions: 4,
      total_msgs: 4,
      total_bytes: storedBytes,
      in_msgs: 4,
      // 3 to the leaver, 2 to the durable, 3 to the queue member, 1 to audit.
      out_msgs: 9,
    })
    expect(storedBytes).toBeGreaterThan('abbcccx'.length)
    expect(Object.keys(serverz).slice(0, 8)).toEqual(['cluster_id', 'server_id', 'version', 'go', 'state', 'now', 'start_time', 'uptime'])
    expect(serverz['uptime']).toMatch(/^\d+s$/)
    expect(Date.parse(serverz['now'] as string)).toBeGreaterThanOrEqual(Date.parse(serverz['start_time'] as string))
  })

  it('Should report the store type, its limits with the real defaults, and its totals on /streaming/storez', async () => {
    const storez = await get<Record<string, unknown>>('/streaming/storez')
    expect(storez).toMatchObject({
      cluster_id: 'monitor-cluster',
      type: 'MEMORY',
      limits: { max_channels: 100, max_msgs: 1_000_000, max_bytes: 1_024_000_000, max_age: 0, max_subscriptions: 1000, max_inactivity: 0 },
      total_msgs: 4,
    })
  })

  it('Should list channel names sorted, paged by offset and limit, on /streaming/channelsz', async () => {
    const all = await get<List & { names: string[] }>('/streaming/channelsz')
    expect(all).toMatchObject({ cluster_id: 'monitor-cluster', offset: 0, limit: 1024, count: 2, total: 2, names: ['audit', 'orders'] })
    expect(all).not.toHaveProperty('channels')
    const second = await get<List & { names: string[] }>('/streaming/channelsz?offset=1&limit=1')
    expect(second).toMatchObject({ offset: 1, limit: 1, count: 1, total: 2, names: ['orders'] })
    const past = await get<List>('/streaming/channelsz?offset=5')
    expect(past).toMatchObject({ count: 0, total: 2 })
    expect(past).not.toHaveProperty('names')
  })

  it('Should describe one channel with its subscriptions, pending counts, last sent, durable and queue names on /streaming/channelsz?channel=&subs=1', async () => {
    const orders = await get<Channelz>('/streaming/channelsz?channel=orders&subs=1')
    // As the real server: online plain ones, then offline durables, then queue members.
    const [dur, offline, member] = orders.subscriptions!
    expect(orders).toMatchObject({ name: 'orders', msgs: 3, first_seq: 1, last_seq: 3, subs_count: 3 })
    expect(dur).toMatchObject({
      client_id: 'worker', durable_name: 'dur', is_durable: true, is_offline: false,
      max_inflight: 2, ack_wait: 60, last_sent: 2, pending_count: 2, is_stalled: true,
    })
    expect(dur).not.toHaveProperty('queue_name')
    expect(member).toMatchObject({ client_id: 'worker', queue_name: 'qd:workers', is_durable: true, is_offline: false, last_sent: 3, pending_count: 0, is_stalled: false })
    expect(member).not.toHaveProperty('durable_name')
    expect(offline).toMatchObject({ client_id: 'leaver', durable_name: 'gone', is_durable: true, is_offline: true, last_sent: 3, pending_count: 0 })
    expect(Object.keys(dur!)).toEqual([
      'client_id', 'inbox', 'ack_inbox', 'durable_name', 'is_durable', 'is_offline',
      'max_inflight', 'ack_wait', 'last_sent', 'pending_count', 'is_stalled',
    ])

    const brief = await get<Channelz>('/streaming/channelsz?channel=audit')
    expect(brief).toEqual({ name: 'audit', msgs: 1, bytes: brief.bytes, first_seq: 1, last_seq: 1, subs_count: 1 })
    const listed = await get<List & { channels: Channelz[] }>('/streaming/channelsz?subs=1')
    expect(listed.channels.map((c) => [c.name, c.subs_count, c.subscriptions?.length])).toEqual([['audit', 1, 1], ['orders', 3, 3]])
  })

  it('When a channel or client does not exist, then the answer is 404 with the real server\'s text', async () => {
    const channel = await fetch(`${server.monitorUrl}/streaming/channelsz?channel=nope`)
    expect([channel.status, await channel.text()]).toEqual([404, 'Channel nope not found\n'])
    const client = await fetch(`${server.monitorUrl}/streaming/clientsz?client=nope`)
    expect([client.status, await client.text()]).toEqual([404, 'Client nope not found\n'])
    const path = await fetch(`${server.monitorUrl}/streaming/nope`)
    expect(path.status).toBe(404)
  })

  it('Should list clients sorted by ID with their heartbeat inboxes and subscriptions by channel on /streaming/clientsz', async () => {
    const list = await get<List & { clients: Clientz[] }>('/streaming/clientsz')
    expect(list).toMatchObject({ cluster_id: 'monitor-cluster', offset: 0, limit: 1024, count: 2, total: 2 })
    expect(list.clients.map((c) => [c.id, c.subs_count])).toEqual([['pub', 0], ['worker', 3]])
    expect(list.clients[1]!.hb_inbox).toMatch(/^_INBOX\./)
    expect(list.clients[1]).not.toHaveProperty('subscriptions')

    const withSubs = await get<List & { clients: Clientz[] }>('/streaming/clientsz?subs=1&offset=1')
    expect(withSubs).toMatchObject({ offset: 1, count: 1, total: 2 })
    const subs = withSubs.clients[0]!.subscriptions!
    expect(Object.keys(subs).sort()).toEqual(['audit', 'orders'])
    expect(subs['orders']!.map((s) => s.durable_name ?? s.queue_name).sort()).toEqual(['dur', 'qd:workers'])
    expect(subs['audit']).toMatchObject([{ client_id: 'worker', is_durable: false, last_sent: 1, pending_count: 0 }])

    const one = await get<Clientz>('/streaming/clientsz?client=worker&subs=1')
    expect(one).toEqual(withSubs.clients[0])
  })
})
