import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import stan from 'node-nats-streaming'
import { describe, expect, it } from 'vitest'
import { spawnProcess } from '../../src/child-process.js'

const bin = fileURLToPath(new URL('../../bin/nats-streaming', import.meta.url))
/** Its start-up takes a second or two; the stop, less. */
const BOUND_MS = 20_000

describe('bin/nats-streaming', () => {
  it('Should print the bound address and monitoring address, serve STAN clients and monitoring there, and stop cleanly on SIGTERM', async () => {
    const child = spawnProcess(process.execPath, [bin, '--port', '0', '-m', '0', '--cluster_id', 'cli-cluster'], { output: 'inherit' })
    const printed = (pattern: RegExp) => child.line((line) => pattern.test(line), BOUND_MS).then((line) => pattern.exec(line)![1]!)
    const [url, monitorUrl] = await Promise.all([printed(/listening on (nats:\/\/\S+)/), printed(/monitoring on (http:\/\/\S+)/)])
    const serverz = (await (await fetch(`${monitorUrl}/serverz`)).json()) as { cluster_id: string; state: string }
    expect([serverz.cluster_id, serverz.state]).toEqual(['cli-cluster', 'STANDALONE'])

    const sc = stan.connect('cli-cluster', 'cli-test', { url })
    await once(sc, 'connect')
    const guid = await new Promise<string>((resolve, reject) => sc.publish('ch', 'x', (err, g) => (err ? reject(err) : resolve(g))))
    expect(guid).not.toBe('')
    sc.close()
    await once(sc, 'close')

    const stopped = await child.stop('SIGTERM', BOUND_MS)
    expect(stopped.code).toBe(0)
  })

  it('Should refuse an unknown store type with a usage message', async () => {
    const child = spawnProcess(process.execPath, [bin, '--store', 'nope'])
    const { code } = await child.exited
    expect(code).toBe(2)
    expect(child.errorOutput()).toContain('invalid store type: nope')
  })
})
