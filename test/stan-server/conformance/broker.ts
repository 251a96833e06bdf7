/**
 * What the conformance suite knows of the server: a NATS URL and a cluster ID.
 * With STAN_URL (and STAN_CLUSTER_ID) set, the suite runs against that external
 * server unchanged; otherwise it starts the embedded one on a free port.
 * Everything else goes through node-nats-streaming.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import stan from 'node-nats-streaming'
import { startStanServer } from '../../../src/stan-server/index.js'
import { sharedByTests } from '../../support/shared-by-tests.js'

export type Stan = ReturnType<typeof stan.connect>
export type StanSubscription = ReturnType<Stan['subscribe']>
export type SubscriptionOptions = ReturnType<Stan['subscriptionOptions']>
export const StartPosition = (stan as unknown as { StartPosition: Record<'NEW_ONLY' | 'LAST_RECEIVED' | 'TIME_DELTA_START' | 'SEQUENCE_START' | 'FIRST', number> }).StartPosition

/** node-nats-streaming's Message, including what index.d.ts leaves out. */
export interface Message {
  getSequence(): number
  getSubject(): string
  getData(): string | Buffer
  getTimestamp(): Date
  isRedelivered(): boolean
  getRedeliveryCount(): number
  ack(): void
}

export interface Broker {
  readonly url: string
  readonly clusterId: string
  close(): Promise<void>
}

async function startBroker(): Promise<Broker> {
  const external = process.env['STAN_URL']
  if (external !== undefined && external !== '') {
    return { url: external, clusterId: process.env['STAN_CLUSTER_ID'] ?? 'test-cluster', close: async () => {} }
  }
  // STAN_TEST_STORE=file runs the suite on the embedded file store, in a temporary directory.
  if (process.env['STAN_TEST_STORE'] === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'stan-conformance-'))
    const server = await startStanServer({ host: '127.0.0.1', port: 0, store: 'file', dir })
    return {
      url: server.url,
      clusterId: server.clusterId,
      close: async () => {
        await server.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  }
  const server = await startStanServer({ host: '127.0.0.1', port: 0 })
  return { url: server.url, clusterId: server.clusterId, close: () => server.close() }
}

/** The broker of the describe block it is called in: started before the block's tests and closed after them. */
export function brokerForSuite(): Broker {
  return sharedByTests(startBroker, (broker) => broker.close())
}

/** A client of `broker` that the describe block's tests share, connected as `prefix-…` before them and closed after. */
export function clientForSuite(broker: Broker, prefix: string): Stan {
  return sharedByTests(() => connect(broker, unique(prefix)), close)
}

/** Unique names keep tests independent on a shared external server. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

export function connect(broker: Pick<Broker, 'url' | 'clusterId'>, clientId: string, options: Record<string, unknown> = {}): Promise<Stan> {
  const sc = stan.connect(broker.clusterId, clientId, { url: broker.url, connectTimeout: 1000, reconnect: false, ...options })
  return new Promise((resolve, reject) => {
    sc.once('connect', () => resolve(sc))
    sc.once('error', (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))))
  })
}

/** Closes the connection and waits until the server has answered the close request. */
export function close(sc: Stan): Promise<void> {
  return new Promise((resolve) => {
    sc.once('close', () => resolve())
    sc.close()
  })
}

export function publish(sc: Stan, subject: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    sc.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)))
  })
}

export async function publishAll(sc: Stan, subject: string, data: readonly string[]): Promise<void> {
  for (const d of data) await publish(sc, subject, d)
}

/** Messages as they arrive, awaited in order. */
export class Inbox {
  private readonly received: Message[] = []
  private readonly waiters: Array<{ count: number; resolve: () => void }> = []

  constructor(readonly subscription: StanSubscription) {
    subscription.on('message', (m: Message) => {
      this.received.push(m)
      for (const w of [...this.waiters]) {
        if (this.received.length >= w.count) {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    })
  }

  get messages(): readonly Message[] {
    return this.received
  }

  get data(): string[] {
    return this.received.map((m) => String(m.getData()))
  }

  /** Resolves once `count` messages in total have arrived. */
  async count(count: number): Promise<readonly Message[]> {
    if (this.received.length < count) await new Promise<void>((resolve) => this.waiters.push({ count, resolve }))
    return this.received
  }
}

/** Subscribes and waits for the server's answer; rejects with the server's error text. */
export function subscribe(sc: Stan, subject: string, options: SubscriptionOptions, qGroup?: string): Promise<Inbox> {
  const sub = qGroup === undefined ? sc.subscribe(subject, options) : sc.subscribe(subject, qGroup, options)
  const inbox = new Inbox(sub)
  return new Promise((resolve, reject) => {
    sub.once('ready', () => resolve(inbox))
    sub.once('error', (err: Error) => reject(err))
    sub.once('timeout', (err: Error) => reject(err))
  })
}

export function unsubscribe(inbox: Inbox): Promise<void> {
  return subscriptionRequest(inbox.subscription, 'unsubscribed', () => inbox.subscription.unsubscribe())
}

export function closeSubscription(inbox: Inbox): Promise<void> {
  return subscriptionRequest(inbox.subscription, 'closed', () => inbox.subscription.close())
}

function subscriptionRequest(sub: StanSubscription, done: string, send: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    sub.once(done, () => resolve())
    sub.once('error', (err: Error) => reject(err))
    send()
  })
}

/**
 * Resolves after a PING/PONG round trip with the server: anything the server sent
 * before it has arrived. Used to check that nothing more was delivered.
 */
export function roundTrip(sc: Stan): Promise<void> {
  const nc = (sc as unknown as { nc: { flush(cb: () => void): void } }).nc
  return new Promise((resolve) => nc.flush(resolve))
}

/** Resolves once the inboxes together hold `total` messages. */
export function totalReceived(inboxes: readonly Inbox[], total: number): Promise<void> {
  const sum = () => inboxes.reduce((n, inbox) => n + inbox.messages.length, 0)
  return new Promise((resolve) => {
    const check = () => {
      if (sum() < total) return
      for (const inbox of inboxes) inbox.subscription.off('message', check)
      resolve()
    }
    for (const inbox of inboxes) inbox.subscription.on('message', check)
    check()
  })
}
