/**
 * Throughput of the embedded NATS Streaming server, run as a child process through
 * bin/nats-streaming (memory store, then file store), with node-nats-streaming here:
 *   - publish-with-ack: 1 KiB messages, 4,000 PubAcks in flight;
 *   - deliver-with-ack: one channel, deliverAllAvailable, manual ack, large maxInFlight.
 *
 * node --import tsx bench/stan-server.ts [--count 100000]
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import stan from 'node-nats-streaming'
import { startBrokerProcess } from '../test/support/broker-process.js'

type Stan = ReturnType<typeof stan.connect>

const PAYLOAD = Buffer.alloc(1024, 'x')
const ACKS_IN_FLIGHT = 4000
const DELIVER_MAX_IN_FLIGHT = 16_384
const CLUSTER = 'bench-cluster'

async function connect(url: string, clientId: string): Promise<Stan> {
  const sc = stan.connect(CLUSTER, clientId, { url, maxPubAcksInflight: ACKS_IN_FLIGHT * 2 })
  await once(sc, 'connect')
  return sc
}

/** Publishes `count` messages keeping ACKS_IN_FLIGHT unacknowledged; resolves with msg/s. */
function publishWithAck(sc: Stan, channel: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let acked = 0
    const started = performance.now()
    const onAck = (err: Error | undefined) => {
      if (err) return reject(err)
      acked++
      if (acked === count) return resolve(count / ((performance.now() - started) / 1000))
      if (sent < count) publishOne()
    }
    const publishOne = () => {
      sent++
      sc.publish(channel, PAYLOAD, onAck)
    }
    while (sent < Math.min(count, ACKS_IN_FLIGHT)) publishOne()
  })
}

/** Receives and acks the whole channel from the start; resolves with msg/s. */
function deliverWithAck(sc: Stan, channel: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = sc.subscriptionOptions().setDeliverAllAvailable().setManualAckMode(true).setMaxInFlight(DELIVER_MAX_IN_FLIGHT)
    const started = performance.now()
    const sub = sc.subscribe(channel, options)
    let received = 0
    sub.on('error', reject)
    sub.on('message', (m: { ack(): void }) => {
      m.ack()
      if (++received === count) {
        resolve(count / ((performance.now() - started) / 1000))
        sub.unsubscribe()
      }
    })
  })
}

async function measure(store: string, args: string[], count: number): Promise<{ store: string; publish: number; deliver: number }> {
  const broker = await startBrokerProcess(['--port', '0', ...args], CLUSTER)
  try {
    const sc = await connect(broker.url, `bench-${store}`)
    await publishWithAck(sc, 'warmup', 5000)
    const publish = await publishWithAck(sc, 'bench', count)
    const deliver = await deliverWithAck(sc, 'bench', count)
    sc.close()
    await once(sc, 'close')
    return { store, publish, deliver }
  } finally {
    await broker.kill('SIGTERM')
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' } } })
  const count = Number(values.count)
  const dir = await mkdtemp(join(tmpdir(), 'stan-bench-'))
  try {
    const rows = [
      await measure('memory', ['--store', 'memory'], count),
      await measure('file', ['--store', 'file', '--dir', dir], count),
    ]
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12)
    console.log(`\n${count} messages of ${PAYLOAD.length} bytes, broker in a child process (bin/nats-streaming)`)
    console.log(`store    | publish-with-ack (${ACKS_IN_FLIGHT} in flight) msg/s | deliver-with-ack msg/s`)
    for (const r of rows) console.log(`${r.store.padEnd(8)} | ${fmt(r.publish).padStart(37)} | ${fmt(r.deliver).padStart(22)}`)
    console.log('targets  | ≥ 17,500 (half of nats-streaming-server 0.25.6) | ≥ 45,000')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
