import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import stan from 'node-nats-streaming'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_NOT_ALL_ACKED, EXIT_OK, EXIT_USAGE, main } from '../../src/publisher/cli.js'
import { generateOrders } from '../../src/publisher/generate-orders.js'
import { HOSTILE_KINDS, hostileMessages } from '../../src/publisher/hostile-messages.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { refusingPort } from '../support/ports.js'

/** Runs the CLI in-process and captures what it writes. */
async function publish(argv: string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    env,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  })
  return { code, stdout, stderr }
}

describe('bin/publish launcher', () => {
  it('When run as a command, then it loads the CLI (compiled, or the source through tsx) and passes its exit status on', async () => {
    const launcher = new URL('../../bin/publish', import.meta.url).pathname
    const help = await promisify(execFile)(process.execPath, [launcher, '--help'], { env: { PATH: process.env.PATH } })
    expect(help.stdout).toContain('Usage: bin/publish')
    const bad = await promisify(execFile)(process.execPath, [launcher, '--count', 'many']).catch((error: { code: number; stderr: string }) => error)
    expect(bad).toMatchObject({ code: EXIT_USAGE, stderr: expect.stringContaining('--count must be a whole number') })
  })
})

describe('bin/publish arguments', () => {
  it('When asked for --help, then it prints the usage and succeeds', async () => {
    const run = await publish(['--help'])
    expect(run.code).toBe(EXIT_OK)
    expect(run.stdout).toContain('Usage: bin/publish')
    expect(run.stdout).toContain('--garbage N')
    // The bounds on publishing again through a fail-over, and what a re-publish means on each broker.
    expect(run.stdout).toMatch(/--max-attempts N +publishes of one message at most, the first included \(default 20\)/)
    expect(run.stdout).toMatch(/--give-up-after S\n +seconds from a message's first publish after which a failure gives it up \(default 120\)/)
    expect(run.stdout).toContain('store it twice in the channel')
  })

  it('When numbers are malformed or out of range, then it names every bad flag and exits 2', async () => {
    const run = await publish(['--count=-1', '--garbage', '1e3', '--rate', '0', '--seed', '4294967296', '--in-flight', '0', '--ack-timeout', '0', '--max-attempts', '0', '--give-up-after', '1.5'])
    expect(run.code).toBe(EXIT_USAGE)
    for (const flag of ['--count', '--garbage', '--rate', '--seed', '--in-flight', '--ack-timeout', '--max-attempts', '--give-up-after']) {
      expect(run.stderr).toContain(`bin/publish: ${flag} must`)
    }
  })

  it('When a flag is unknown or a positional argument is given, then it exits 2', async () => {
    expect((await publish(['--cout', '5'])).code).toBe(EXIT_USAGE)
    expect((await publish(['5'])).code).toBe(EXIT_USAGE)
    expect((await publish(['--count'])).code).toBe(EXIT_USAGE)
  })

  it('When broker settings are invalid, then it names the flag or the variable they came from', async () => {
    const fromFlags = await publish(['--url', 'http://127.0.0.1:4222', '--channel', 'orders.*', '--cluster-id', 'a b'])
    expect(fromFlags.code).toBe(EXIT_USAGE)
    expect(fromFlags.stderr).toContain('--url: must start with nats://')
    expect(fromFlags.stderr).toContain('--channel: must be a subject without wildcards')
    expect(fromFlags.stderr).toContain('--cluster-id: must be 1..64')
    const fromEnv = await publish([], { STAN_URL: 'http://127.0.0.1:4222' })
    expect(fromEnv.stderr).toContain('STAN_URL: must start with nats://')
  })

  it('When the environment has a setting the publisher does not use wrong, then it is not in the way', async () => {
    const run = await publish(['--help'], { DATABASE_URL: 'mysql://nope', HTTP_PORT: 'eighty' })
    expect(run.code).toBe(EXIT_OK)
  })

  it('When --file cannot be read, then it says so and exits 2', async () => {
    const run = await publish(['--file', join(tmpdir(), 'no-such-dir-for-publish', 'orders.jsonl')])
    expect(run.code).toBe(EXIT_USAGE)
    expect(run.stderr).toMatch(/cannot read .*ENOENT/)
  })

  it('When no broker listens at the URL, then it says so and exits 1', async () => {
    const run = await publish(['--count', '1', '--url', `nats://127.0.0.1:${await refusingPort()}`])
    expect(run.code).toBe(EXIT_NOT_ALL_ACKED)
    expect(run.stderr).toMatch(/cannot connect to nats:\/\/127\.0\.0\.1:\d+ \(cluster test-cluster\)/)
  })
})

describe('bin/publish against the embedded broker', () => {
  let server: StanServer
  let dir: string
  beforeAll(async () => {
    server = await startStanServer({ port: 0 })
    dir = await mkdtemp(join(tmpdir(), 'publish-test-'))
  })
  afterAll(async () => {
    await server?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('When publishing --count 5, then a subscriber receives those 5 generated orders and the summary counts 5 acked', async () => {
    const run = await publish(['--count', '5', '--seed', '9', '--url', server.url, '--channel', 'count-five'])
    expect(run.code).toBe(EXIT_OK)
    expect(run.stdout).toMatch(/published 5 to count-five .*\(seed 9\)\nacked 5, re-published 0, given up 0, elapsed/)
    const received = await receive(server, 'count-five', 5)
    expect(received.map((payload) => JSON.parse(payload.toString()))).toEqual([...generateOrders(5, 9)])
  })

  it('When --url lists a refusing server first, then it publishes through the next one', async () => {
    const run = await publish(['--count', '3', '--seed', '5', '--url', `nats://127.0.0.1:${await refusingPort()}, ${server.url}`, '--channel', 'listed'])
    expect(run.code).toBe(EXIT_OK)
    expect(await receive(server, 'listed', 3)).toHaveLength(3)
  })

  it('When the channel and URL come from the environment, then they are used', async () => {
    const run = await publish(['--count', '2', '--seed', '3'], { STAN_URL: server.url, STAN_CHANNEL: 'from-env', STAN_CLUSTER_ID: server.clusterId })
    expect(run.code).toBe(EXIT_OK)
    expect(await receive(server, 'from-env', 2)).toHaveLength(2)
  })

  it('When publishing --file with JSON lines and --garbage, then every message arrives byte for byte and is acked', async () => {
    const file = join(dir, 'orders.jsonl')
    await writeFile(file, '{"order_uid":"from-file"}\nnot json at all\n')
    const garbage = HOSTILE_KINDS.length
    const run = await publish(['--file', file, '--garbage', String(garbage), '--seed', '4', '--url', server.url, '--channel', 'mixed'])
    expect(run.code).toBe(EXIT_OK)
    expect(run.stdout).toContain(`acked ${garbage + 2}, re-published 0, given up 0`)
    const received = await receive(server, 'mixed', garbage + 2)
    const expected: Buffer[] = [Buffer.from('{"order_uid":"from-file"}'), Buffer.from('not json at all')]
    for (const message of hostileMessages(garbage, 4)) expected.push(message.payload)
    expect(received.map((payload) => payload.toString('base64'))).toEqual(expected.map((payload) => payload.toString('base64')))
  })

  it('When a message is larger than the broker\'s max_payload, then it is given up at once (publishing again cannot help), the rest acked, and it exits 1', async () => {
    // A broker with a small max_payload would close the connection of a client that publishes more.
    const strict = await startStanServer({ port: 0, maxPayload: 4096 })
    try {
      const run = await publish(['--count', '20', '--garbage', String(HOSTILE_KINDS.length), '--url', strict.url])
      expect(run.code).toBe(EXIT_NOT_ALL_ACKED)
      const givenUp = Number(/given up (\d+)×/.exec(run.stdout)?.[1])
      expect(run.stdout).toMatch(/given up [1-9]\d*× larger than the server's max_payload \(4096 bytes\)\n/)
      expect(run.stdout).toContain(`acked ${20 + HOSTILE_KINDS.length - givenUp}, re-published 0, given up ${givenUp},`)
    } finally {
      await strict.close()
    }
  })
})

/** Subscribes from the first message of the channel and collects `count` payloads. */
async function receive(server: StanServer, channel: string, count: number): Promise<Buffer[]> {
  const client = stan.connect(server.clusterId, `receiver-${channel}`, { url: server.url })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  const options = client.subscriptionOptions().setDeliverAllAvailable()
  const subscription = client.subscribe(channel, options)
  const payloads: Buffer[] = []
  await new Promise<void>((resolve) => {
    subscription.on('message', (message: stan.Message) => {
      payloads.push(message.getRawData())
      if (payloads.length === count) resolve()
    })
  })
  await new Promise<void>((resolve) => {
    client.once('close', () => resolve())
    client.close()
  })
  return payloads
}
