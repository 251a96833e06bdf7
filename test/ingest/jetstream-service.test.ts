import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startService } from '../../src/service.js'
import { StartupError } from '../../src/errors.js'
import { silent } from '../support/jetstream.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'

/** What only the service on JetStream has; the cases both brokers share run on each in test/service.test.ts. */
let db: TestDatabase
let nats: TestNats

beforeAll(async () => {
  db = await startTestDatabase()
  nats = await startNatsNode()
})
afterAll(async () => {
  await nats?.close()
  await db?.stop()
})

describe('order-service start-up on JetStream', () => {
  it('When the configured stream exists without the subject, then start-up fails with a StartupError naming both, and undoes itself', async () => {
    const nc = await connect({ servers: nats.urls })
    await (await jetstreamManager(nc)).streams.add({ name: 'ELSEWHERE', subjects: ['elsewhere'] })
    await nc.close()
    const config = loadConfig({ BROKER: 'jetstream', JETSTREAM_STREAM: 'ELSEWHERE', JETSTREAM_SUBJECT: 'orders', HTTP_PORT: '0', GATE_THREAD: 'off' })
    const starting = startService(config, { databaseUrl: db.url, stanServers: [], stanClusterId: '', natsServers: nats.urls }, silent)
    await expect(starting).rejects.toBeInstanceOf(StartupError)
    await expect(starting).rejects.toMatchObject({ code: 'stream_subjects_mismatch', message: expect.stringContaining('["elsewhere"]') })
  })
})
