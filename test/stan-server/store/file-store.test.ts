import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from '../../../src/stan-server/store/file-store.js'
import { DEFAULT_LIMITS, type StoreLimits } from '../../../src/stan-server/store/limits.js'
import type { SubscriptionRecord } from '../../../src/stan-server/store/types.js'

const message = (sequence: number, size = 10) => ({ sequence, timestamp: sequence * 1000, bytes: Buffer.alloc(size, sequence % 256) })

const subscription = (id: number, fields: Partial<SubscriptionRecord> = {}): SubscriptionRecord => ({
  id, clientId: 'me', qGroup: '', inbox: `in.${id}`, ackInbox: `ack.${id}`, durableName: 'd',
  maxInFlight: 10, ackWaitInSecs: 30, lastSent: 0, isDurable: true, isClosed: false, ...fields,
})

describe('FileStore', () => {
  let dir: string
  const open = (limits: Partial<StoreLimits> = {}, sliceMaxBytes?: number) =>
    new FileStore(dir, { ...DEFAULT_LIMITS, ...limits }, sliceMaxBytes === undefined ? {} : { sliceMaxBytes })
  const channelDir = (name: string) => join(dir, 'channels', encodeURIComponent(name))
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stan-file-store-'))
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('When reopened, then flushed messages, subscriptions with their pending messages, and clients are recovered', async () => {
    const store = open()
    const channel = store.createChannel('orders.eu')
    for (let seq = 1; seq <= 5; seq++) channel.messages.append(message(seq))
    channel.subscriptions.create(subscription(1))
    channel.subscriptions.create(subscription(2, { durableName: '', isDurable: false }))
    for (const seq of [1, 2, 3]) channel.subscriptions.addPending(1, seq)
    channel.subscriptions.ackPending(1, 2)
    channel.subscriptions.delete(2)
    store.addClient({ id: 'me', hbInbox: '_INBOX.hb', connId: 'c1' })
    store.addClient({ id: 'gone', hbInbox: '_INBOX.x', connId: '' })
    store.deleteClient('gone')
    await store.flush()
    await store.close()

    const reopened = open()
    const state = reopened.recover()
    expect(state.clients).toEqual([{ id: 'me', hbInbox: '_INBOX.hb', connId: 'c1' }])
    expect(state.channels.map((c) => c.channel.name)).toEqual(['orders.eu'])
    const [{ channel: recovered, subscriptions }] = state.channels as [typeof state.channels[0]]
    expect([recovered.messages.firstSequence, recovered.messages.lastSequence, recovered.messages.totalBytes]).toEqual([1, 5, 50])
    expect(recovered.messages.lookup(4)).toEqual(message(4))
    expect(subscriptions).toEqual([{ record: subscription(1, { lastSent: 3 }), pending: [1, 3] }])
    recovered.messages.append(message(6))
    expect(recovered.messages.lookup(6)).toEqual(message(6))
    await reopened.close()
  })

  it('When the last record was torn by a crash, then recovery drops it and appending goes on after the last whole one', async () => {
    const store = open()
    const channel = store.createChannel('ch')
    for (let seq = 1; seq <= 3; seq++) channel.messages.append(message(seq))
    await store.flush()
    await store.close()
    const slice = join(channelDir('ch'), 'msgs.1.dat')
    truncateSync(slice, statSync(slice).size - 3)
    appendFileSync(join(channelDir('ch'), 'subs.dat'), Buffer.from([9, 9, 9]))

    const reopened = open()
    const messages = reopened.lookupChannel('ch')!.messages
    expect([messages.firstSequence, messages.lastSequence]).toEqual([1, 2])
    messages.append(message(3, 20))
    await reopened.flush()
    await reopened.close()
    const again = open()
    expect(again.lookupChannel('ch')!.messages.lookup(3)).toEqual(message(3, 20))
    await again.close()
  })

  it('When a channel passes its message limit, then the oldest are dropped, whole old slices are deleted, and a restart keeps it so', async () => {
    const store = open({ maxMsgs: 10 }, 100)
    const messages = store.createChannel('ch').messages
    for (let seq = 1; seq <= 40; seq++) messages.append(message(seq))
    await store.flush()
    expect([messages.firstSequence, messages.lastSequence, messages.count]).toEqual([31, 40, 10])
    expect(messages.lookup(30)).toBeUndefined()
    expect(messages.lookup(31)).toEqual(message(31))
    const slices = readdirSync(channelDir('ch')).filter((f) => f.startsWith('msgs.'))
    expect(slices.length).toBeLessThanOrEqual(4)
    await store.close()

    const reopened = open({ maxMsgs: 10 }, 100)
    const recovered = reopened.lookupChannel('ch')!.messages
    expect([recovered.firstSequence, recovered.lastSequence]).toEqual([31, 40])
    expect(recovered.lookup(35)).toEqual(message(35))
    await reopened.close()
  })

  it('Should read messages of older slices back from disk and find them by timestamp', async () => {
    const store = open({}, 64)
    const messages = store.createChannel('ch').messages
    for (let seq = 1; seq <= 50; seq++) messages.append(message(seq))
    await store.flush()
    for (const seq of [1, 25, 2, 50, 13]) expect(messages.lookup(seq)).toEqual(message(seq))
    expect(messages.sequenceAtOrAfter(12_500)).toBe(13)
    expect(messages.sequenceAtOrAfter(99_000)).toBe(51)
    await store.close()
  })

  it('Should keep a channel past the bytes limit under it, always keeping the newest message', async () => {
    const store = open({ maxBytes: 100 })
    const messages = store.createChannel('ch').messages
    for (let seq = 1; seq <= 5; seq++) messages.append(message(seq, 30))
    expect([messages.firstSequence, messages.totalBytes]).toEqual([3, 90])
    messages.append(message(6, 500))
    expect([messages.firstSequence, messages.count]).toEqual([6, 1])
    await store.close()
  })

  it('When the subscriptions log has grown well past its state, then it is compacted and still recovers the same state', async () => {
    const store = open()
    const subs = store.createChannel('ch').subscriptions
    subs.create(subscription(1))
    for (let seq = 1; seq <= 12_000; seq++) {
      subs.addPending(1, seq)
      subs.ackPending(1, seq)
    }
    subs.addPending(1, 12_001)
    await store.flush()
    await store.flush() // compaction runs between rounds
    await store.close()
    expect(statSync(join(channelDir('ch'), 'subs.dat')).size).toBeLessThan(10_000)
    const reopened = open()
    expect(reopened.recover().channels[0]!.subscriptions).toEqual([{ record: subscription(1, { lastSent: 12_001 }), pending: [12_001] }])
    await reopened.close()
  })
})
