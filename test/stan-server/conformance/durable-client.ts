/**
 * A service-like client in its own process, for the kill -9 test:
 * `node --import tsx durable-client.ts <url> <clusterId> <clientId> <channel>`.
 * Holds a manual-ack durable subscription and prints "ready", then "acked <data>"
 * once each ack has reached the server.
 */
import stan from 'node-nats-streaming'

const [url, clusterId, clientId, channel] = process.argv.slice(2) as [string, string, string, string]
const sc = stan.connect(clusterId, clientId, { url, reconnect: false })
const nc = (sc as unknown as { nc: { flush(cb: () => void): void } }).nc
sc.on('error', (err: Error) => {
  process.stderr.write(`durable-client: ${err.message}\n`)
  process.exit(1)
})
sc.on('connect', () => {
  const options = sc.subscriptionOptions().setDurableName('svc').setDeliverAllAvailable().setManualAckMode(true)
  const sub = sc.subscribe(channel, options)
  sub.on('ready', () => process.stdout.write('ready\n'))
  sub.on('message', (m: { getData(): string | Buffer; ack(): void }) => {
    m.ack()
    nc.flush(() => process.stdout.write(`acked ${String(m.getData())}\n`))
  })
})
