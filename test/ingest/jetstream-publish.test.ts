import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { prepareJetStream } from '../../src/ingest/jetstream-subscription.js'
import { EXIT_OK, EXIT_USAGE, main } from '../../src/publisher/cli.js'
import { jetStreamOptions } from '../support/jetstream.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'
import { orderJson } from '../support/orders.js'

let nats: TestNats
let dir: string

beforeAll(async () => {
  ;[nats, dir] = await Promise.all([startNatsNode(), mkdtemp(join(tmpdir(), 'publish-js-'))])
  // The stream as the service creates it, with its duplicate window.
  const ready = await prepareJetStream(jetStreamOptions(nats.urls, 'publish', { subject: 'orders' }))
  if (ready.ok) await ready.open(() => {}).close()
})
afterAll(async () => {
  await nats?.close()
  await rm(dir, { recursive: true, force: true })
})

async function publish(argv: string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, { env, stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } })
  return { code, stdout, stderr }
}

const storedMessages = async () => {
  const nc = await connect({ servers: nats.urls })
  try {
    return (await (await jetstreamManager(nc)).streams.info('S_publish')).state.messages
  } finally {
    await nc.close()
  }
}

it('When the same file is published twice with --broker jetstream, then the server drops the identical republish; a changed document under a stored order_uid still gets through', async () => {
  const file = join(dir, 'orders.jsonl')
  await writeFile(file, [orderJson('p1'), orderJson('p2'), orderJson('p3')].join('\n'))
  const env = { NATS_URL: nats.urls.join(',') }
  const first = await publish(['--broker', 'jetstream', '--file', file], env)
  expect(first.code).toBe(EXIT_OK)
  expect(first.stdout).toContain('published 3 to orders on nats://')
  expect(await storedMessages()).toBe(3)

  const again = await publish(['--file', file], { ...env, BROKER: 'jetstream' })
  expect(again.code).toBe(EXIT_OK)
  expect(again.stdout).toContain('3 acked as duplicates')
  expect(await storedMessages()).toBe(3)

  await writeFile(file, orderJson('p1', (order) => (order.track_number = 'CHANGED')))
  expect((await publish(['--broker', 'jetstream', '--file', file, '--url', nats.urls[0]!])).code).toBe(EXIT_OK)
  expect(await storedMessages()).toBe(4)
})

it('When the JetStream server list or subject is invalid, then the flag is named', async () => {
  const run = await publish(['--broker', 'jetstream', '--url', 'nats://a:4222,http://b', '--subject', 'orders.>'])
  expect(run.code).toBe(EXIT_USAGE)
  expect(run.stderr).toContain('--url: must start with nats:// and name a host, each of a comma-separated list; not "http://b"')
  expect(run.stderr).toContain('--subject: must be a subject without wildcards')
})
