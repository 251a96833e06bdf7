/**
 * What draining a NATS Streaming channel costs the subscriber's own process, per message: node-nats-streaming
 * (the service's client until issue 21) against the service's own client (src/ingest/stan-client.ts), in
 * alternating rounds on the same channel. The broker runs in a child process (bin/nats-streaming, memory store),
 * so the CPU counted here is the subscriber's alone: process.cpuUsage() (user + system, every thread of this
 * process: the main thread and V8's GC helpers) from the subscribe call to the last message's ack, divided by the
 * count. Each round drains the whole channel on a fresh durable from its first message (manual acks, the
 * service's default max-in-flight and ack wait), acking each message as it comes; the handler reads the data and
 * the sequence as the service's does. The payload is the sample order (/work/shared/model.json, or --payload).
 *   node --import tsx bench/stan-client.ts [--count 100000] [--rounds 5] [--only old|new] [--payload file]
 * With --profile <dir>, a V8 CPU profile of each client's last drain window (publishing left out) is written there,
 * <client>.cpuprofile; bench/profile-top.ts prints its top frames.
 */
import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import stan from 'node-nats-streaming'
import { connectStan, PINGS } from '../src/ingest/stan-client.js'
import { startBrokerProcess } from '../test/support/broker-process.js'
import { median } from './lib/median.js'

const CLUSTER = 'bench-cluster'
const CHANNEL = 'orders'
/** The service's defaults (src/config.ts: STAN_MAX_IN_FLIGHT, STAN_ACK_WAIT_SECONDS). */
const MAX_IN_FLIGHT = 4096
const ACK_WAIT_MS = 30_000
const PUBLISH_ACKS_IN_FLIGHT = 4000

type Client = 'old' | 'new'

interface Drain {
  /** CPU of this process, µs per message. */
  cpuUsPerMessage: number
  messagesPerSecond: number
}

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
    payload: { type: 'string', default: '/work/shared/model.json' },
    profile: { type: 'string' },
  },
})
const count = Number(values.count)
const rounds = Number(values.rounds)
const clients: Client[] = values.only === 'old' || values.only === 'new' ? [values.only] : ['old', 'new']

async function connectOld(url: string, clientId: string): Promise<stan.Stan> {
  const sc = stan.connect(CLUSTER, clientId, { url, maxPubAcksInflight: PUBLISH_ACKS_IN_FLIGHT * 2, ...PINGS })
  await once(sc, 'connect')
  return sc
}

/** Publishes `count` copies of `payload`, PUBLISH_ACKS_IN_FLIGHT unacknowledged at most. */
async function publish(url: string, payload: Buffer): Promise<void> {
  const sc = await connectOld(url, 'bench-publisher')
  await new Promise<void>((resolve, reject) => {
    let sent = 0
    let acked = 0
    const publishOne = () => {
      sent++
      sc.publish(CHANNEL, payload, (error) => {
        if (error) return reject(error)
        if (++acked === count) return resolve()
        if (sent < count) publishOne()
      })
    }
    while (sent < Math.min(count, PUBLISH_ACKS_IN_FLIGHT)) publishOne()
  })
  sc.close()
  await once(sc, 'close')
}

/** The V8 profiler of this process, on for the drain windows only when --profile is given. */
const profiler = values.profile === undefined ? undefined : new Session()
profiler?.connect()
await profiler?.post('Profiler.enable')

async function startWindow(): Promise<{ cpu: NodeJS.CpuUsage; at: number }> {
  await profiler?.post('Profiler.start')
  return { cpu: process.cpuUsage(), at: performance.now() }
}

/** Per client, the profiles of its drain windows. */
const profiles: Record<Client, unknown[]> = { old: [], new: [] }

/** Counts CPU and wall time from the window's start until `done` resolves. */
async function measured(client: Client, done: Promise<void>, started: { cpu: NodeJS.CpuUsage; at: number }): Promise<Drain> {
  await done
  const cpu = process.cpuUsage(started.cpu)
  if (profiler !== undefined) profiles[client].push((await profiler.post('Profiler.stop')).profile)
  const seconds = (performance.now() - started.at) / 1000
  return { cpuUsPerMessage: (cpu.user + cpu.system) / count, messagesPerSecond: count / seconds }
}

async function drainOld(url: string, durable: string): Promise<Drain> {
  const sc = await connectOld(url, `bench-old-${durable}`)
  const options = sc.subscriptionOptions().setDeliverAllAvailable().setDurableName(durable).setManualAckMode(true).setMaxInFlight(MAX_IN_FLIGHT).setAckWait(ACK_WAIT_MS)
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  let received = 0
  /** What the handler reads, as the service's does: summed so that the reads are not optimized away. */
  let read = 0
  const started = await startWindow()
  const sub = sc.subscribe(CHANNEL, options)
  sub.on('error', (error: unknown) => console.error('subscription error', error))
  sub.on('message', (message: { getRawData(): Buffer; getSequence(): number; ack(): void }) => {
    read += message.getRawData().length + message.getSequence()
    message.ack()
    if (++received === count) finished()
  })
  const drain = await measured('old', done, started)
  sub.unsubscribe()
  await once(sub, 'unsubscribed')
  sc.close()
  await once(sc, 'close')
  if (read === 0) throw new Error('no data')
  return drain
}

async function drainNew(url: string, durable: string): Promise<Drain> {
  const opened = await connectStan({
    server: url, clusterId: CLUSTER, clientId: `bench-new-${durable}`, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000, pings: PINGS,
  })
  if (!opened.ok) throw new Error(opened.reason)
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  let received = 0
  /** What the handler reads, as the service's does: summed so that the reads are not optimized away. */
  let read = 0
  const started = await startWindow()
  const subscribed = await opened.connection.subscribe(
    { channel: CHANNEL, durableName: durable, maxInFlight: MAX_IN_FLIGHT, ackWaitMs: ACK_WAIT_MS },
    (message, subscription) => {
      read += message.data.length + message.sequence
      subscription.ack(message.sequence)
      if (++received === count) finished()
    },
  )
  if (!subscribed.ok) throw new Error(subscribed.reason)
  const drain = await measured('new', done, started)
  await subscribed.subscription.unsubscribe()
  await opened.connection.close()
  if (read === 0) throw new Error('no data')
  return drain
}

async function main(): Promise<void> {
  const payload = await readFile(values.payload!)
  const broker = await startBrokerProcess(['--port', '0', '--store', 'memory'], CLUSTER)
  try {
    await publish(broker.url, payload)
    const results: Record<Client, Drain[]> = { old: [], new: [] }
    for (let round = 0; round < rounds; round++) {
      // Alternating, and the first client of each round alternating too: neither always runs on a warmer process.
      const order = round % 2 === 0 ? clients : clients.toReversed()
      for (const client of order) {
        const drain = await (client === 'old' ? drainOld : drainNew)(broker.url, `drain-${round}-${client}`)
        results[client].push(drain)
        console.log(`round ${round + 1} ${client.padEnd(3)}: ${drain.cpuUsPerMessage.toFixed(1)} µs CPU/msg, ${Math.round(drain.messagesPerSecond).toLocaleString('en-US')} msg/s`)
      }
    }
    console.log(`\n${count.toLocaleString('en-US')} messages of ${payload.length} bytes, max in flight ${MAX_IN_FLIGHT}, ${rounds} rounds; the broker in a child process`)
    console.log('client                                  | CPU µs/msg (median, min-max) | msg/s (median)')
    const name = { old: 'node-nats-streaming', new: 'src/ingest/stan-client.ts' }
    const medians: Partial<Record<Client, number>> = {}
    for (const client of clients) {
      const cpu = results[client].map((d) => d.cpuUsPerMessage)
      medians[client] = median(cpu)
      const rate = median(results[client].map((d) => d.messagesPerSecond))
      console.log(`${name[client].padEnd(39)} | ${`${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)})`.padEnd(28)} | ${Math.round(rate).toLocaleString('en-US')}`)
    }
    if (medians.old !== undefined && medians.new !== undefined) console.log(`new / old CPU per message: ${(medians.new / medians.old).toFixed(2)}`)
    if (values.profile !== undefined) await writeProfiles(values.profile)
  } finally {
    await broker.kill('SIGTERM')
  }
}

/** Writes the last drain window's profile of each client (the warmest). */
async function writeProfiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const client of clients) {
    const path = join(dir, `${client}.cpuprofile`)
    await writeFile(path, JSON.stringify(profiles[client].at(-1)))
    console.log(`profile of the last ${client} drain: ${path}`)
  }
}

await main()
