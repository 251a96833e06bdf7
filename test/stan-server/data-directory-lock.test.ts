/**
 * The file store's data directory belongs to one broker at a time; a directory
 * left behind by a broker killed with SIGKILL is taken over by the next one.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { spawnProcess } from '../../src/child-process.js'
import { DirectoryLockedError, startStanServer } from '../../src/stan-server/index.js'
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process.js'
import { close, connect, publish, subscribe, unique } from './conformance/broker.js'

const bin = fileURLToPath(new URL('../../bin/nats-streaming', import.meta.url))

describe('Data directory lock of the file store', () => {
  let dir: string
  let child: BrokerProcess | undefined
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stan-lock-'))
  })
  afterEach(async () => {
    await child?.kill('SIGKILL')
    child = undefined
    await rm(dir, { recursive: true, force: true })
  })

  const startInProcess = () => startStanServer({ port: 0, store: 'file', dir })

  it('When a broker has the directory open, then a second broker in the same process fails to start until the first one is closed', async () => {
    const first = await startInProcess()
    try {
      await expect(startInProcess()).rejects.toThrow(DirectoryLockedError)
      await expect(startInProcess()).rejects.toThrow(`the data directory ${dir} is in use by another broker (process ${process.pid})`)
    } finally {
      await first.close()
    }
    const second = await startInProcess()
    await second.close()
  })

  it('When a broker process has the directory open, then the CLI on the same directory exits with status 1 and says why', async () => {
    child = await startBrokerProcess(['--port', '0', '--store', 'file', '--dir', dir])
    const second = spawnProcess(process.execPath, [bin, '--port', '0', '--store', 'file', '--dir', dir])
    const { code } = await second.exited
    expect(code).toBe(1)
    expect(second.errorOutput()).toContain(`nats-streaming: unable to start: stan-server: the data directory ${dir} is in use by another broker (process ${child.pid})`)
  })

  it('When the broker owning the directory is killed with SIGKILL, then a new broker takes the directory over with its messages', async () => {
    child = await startBrokerProcess(['--port', '0', '--store', 'file', '--dir', dir])
    const sc = await connect(child, unique('pub'))
    sc.on('error', () => {}) // the broker is about to vanish under it
    const channel = unique('orders')
    await publish(sc, channel, 'kept')
    await expect(startInProcess()).rejects.toThrow(`(process ${child.pid})`)

    await child.kill('SIGKILL')
    child = undefined
    const successor = await startInProcess()
    try {
      const reader = await connect(successor, unique('sub'))
      const inbox = await subscribe(reader, channel, reader.subscriptionOptions().setDeliverAllAvailable())
      await inbox.count(1)
      expect(inbox.data).toEqual(['kept'])
      await close(reader)
    } finally {
      await successor.close()
    }
  })
})
