/**
 * bin/publish through a NATS Streaming fail-over. The embedded broker cannot cluster, so the fail-overs are the two
 * a client of a cluster meets: the server it publishes to dies (killed, and back on its port from its file store),
 * and the connection is dropped under it (a proxy in front of the broker closes), with the next server of the list
 * still there.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { EXIT_NOT_ALL_ACKED, EXIT_OK, main } from '../../src/publisher/cli.js'
import { generateOrders } from '../../src/publisher/generate-orders.js'
import { createOrderStore } from '../../src/store/orders.js'
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process.js'
import { nextEvent } from '../support/events.js'
import { refusingPort, restartablePort } from '../support/ports.js'
import { startTestService, type TestService } from '../support/service.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { startFreezingProxy } from '../support/tcp-proxy.js'
import { startStanServer } from '../../src/stan-server/index.js'
import { close, connect, subscribe, unique } from '../stan-server/conformance/broker.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs the CLI in-process, capturing what it prints. */
function publish(argv: string[], signal?: AbortSignal) {
  const output = { stdout: '', stderr: '' }
  const done = main(argv, {
    env: {},
    signal,
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text) },
  })
  return { output, done }
}

it('When the server it publishes to is SIGKILLed and comes back, then it connects again through its list and publishes on: every message acked, none given up, each in the channel', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'publish-restart-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const port = await restartablePort()
  const start = async () => {
    const broker = await startBrokerProcess(['--port', String(port), '--store', 'file', '--dir', dir])
    cleanups.push(() => broker.kill('SIGKILL'))
    return broker
  }
  let broker: BrokerProcess = await start()
  const channel = unique('restart')
  const watcher = await connect(broker, unique('watcher'))
  watcher.on('error', () => {}) // the broker is about to vanish under it
  const watched = await subscribe(watcher, channel, watcher.subscriptionOptions())

  const total = 1_000
  // A server that refuses first in the list: the walk passes it on every round.
  const run = publish(['--url', `nats://127.0.0.1:${await refusingPort()},${broker.url}`, '--channel', channel, '--count', String(total), '--seed', '11', '--rate', '250', '--ack-timeout', '3'])
  await watched.count(200)
  await broker.kill('SIGKILL')
  broker = await start()
  const code = await run.done

  expect(code, run.output.stdout + run.output.stderr).toBe(EXIT_OK)
  expect(run.output.stdout).toMatch(new RegExp(`acked ${total}, re-published \\d+, given up 0,`))
  expect(run.output.stdout).toMatch(/connection lost [1-9]\d*×/)
  const reader = await connect(broker, unique('reader'))
  const all = await subscribe(reader, channel, reader.subscriptionOptions().setDeliverAllAvailable())
  const expected = [...generateOrders(total, 11)].map((order) => JSON.stringify(order))
  // Then each order at least once; a publish whose ack was lost with the server may be there twice.
  const received = await all.count(total)
  await close(reader)
  expect(new Set(received.map((message) => String(message.getData())))).toEqual(new Set(expected))
}, 120_000)

it('When the connection it publishes on is dropped, then it moves to the next server of the list, every message is acked, none given up, and the service stores every order once', async () => {
  const service: TestService = await startTestService()
  cleanups.push(() => service.stop())
  const target = new URL(service.broker!.url)
  const proxies: TcpProxy[] = []
  for (let i = 0; i < 2; i++) proxies.push(await startTcpProxy({ host: target.hostname, port: Number(target.port) }))
  cleanups.push(() => Promise.all(proxies.map((proxy) => proxy.close())))

  const total = 1_000
  let stored = 0
  const allStored = nextEvent(service.service.events, 'committed', (batch) => (stored += batch.stored) >= total)
  // What the publisher got through so far, read from the broker (the service may lag behind).
  const watcher = await connect(service.broker!, unique('watcher'))
  cleanups.push(() => close(watcher))
  const watched = await subscribe(watcher, service.config.STAN_CHANNEL, watcher.subscriptionOptions())
  const run = publish([
    '--url', proxies.map((proxy) => proxy.url).join(','),
    '--cluster-id', service.broker!.clusterId,
    '--channel', service.config.STAN_CHANNEL,
    '--count', String(total), '--rate', '250', '--ack-timeout', '3',
  ])
  await watched.count(200)
  // The first server goes away with the connection through it.
  await proxies[0]!.close()
  const code = await run.done

  expect(code, run.output.stdout + run.output.stderr).toBe(EXIT_OK)
  expect(run.output.stdout).toMatch(new RegExp(`acked ${total}, re-published \\d+, given up 0,`))
  expect(run.output.stdout).toMatch(/connection lost 1×/)
  await allStored
  expect(await createOrderStore(service.db.sql).count()).toBe(total)
}, 120_000)

it('When the connection it publishes on stops answering without closing, then its pings notice, it moves to the next server of the list, and every message is acked', async () => {
  const broker = await startStanServer({ port: 0 })
  cleanups.push(() => broker.close())
  const frozen = await startFreezingProxy({ port: Number(new URL(broker.url).port) })
  cleanups.push(() => frozen.close())
  const channel = unique('frozen')
  const watcher = await connect(broker, unique('watcher'))
  cleanups.push(() => close(watcher))
  const watched = await subscribe(watcher, channel, watcher.subscriptionOptions())

  const total = 600
  const run = publish(['--url', `nats://127.0.0.1:${frozen.port},${broker.url}`, '--cluster-id', broker.clusterId, '--channel', channel, '--count', String(total), '--rate', '200', '--ack-timeout', '3'])
  await watched.count(100)
  // A hung node, or a partition: no FIN, no RST, and a new connection through it would hang too.
  frozen.freeze({ newConnections: 'freeze' })
  const code = await run.done

  expect(code, run.output.stdout + run.output.stderr).toBe(EXIT_OK)
  expect(run.output.stdout).toMatch(new RegExp(`acked ${total}, re-published \\d+, given up 0,`))
  expect(run.output.stdout).toMatch(/connection lost 1×/)
  const received = await watched.count(total)
  expect(new Set(received.map((message) => String(message.getData()))).size).toBe(total)
}, 120_000)

it('When it is interrupted while no server of its list answers, then it stops at once, counts what was not acked as given up, and exits 1', async () => {
  const broker = await startStanServer({ port: 0 })
  const channel = unique('interrupted')
  const watcher = await connect(broker, unique('watcher'))
  watcher.on('error', () => {}) // the broker is about to go
  const watched = await subscribe(watcher, channel, watcher.subscriptionOptions())
  const interrupt = new AbortController()
  const run = publish(['--url', broker.url, '--cluster-id', broker.clusterId, '--channel', channel, '--count', '1000', '--rate', '200'], interrupt.signal)
  await watched.count(50)
  await broker.close()
  // Time for the publishes the close failed to come due again (after 100 ms) and wait for a connection: no event of
  // the publisher's says so from outside.
  await sleep(500)
  interrupt.abort()
  const stopped = performance.now()
  const code = await run.done

  expect(performance.now() - stopped).toBeLessThan(3_000)
  expect(code).toBe(EXIT_NOT_ALL_ACKED)
  expect(run.output.stdout).toMatch(/\), interrupted\n/)
  const published = Number(/published (\d+) to/.exec(run.output.stdout)![1])
  const acked = Number(/acked (\d+),/.exec(run.output.stdout)![1])
  expect(run.output.stdout).toContain(`given up ${published - acked},`)
  expect(acked).toBeGreaterThanOrEqual(50)
}, 60_000)
