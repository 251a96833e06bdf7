import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import stan from 'node-nats-streaming'
import { describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../bin/nats-streaming', import.meta.url))

describe('bin/nats-streaming', () => {
  it('Should print the bound address and monitoring address, serve STAN clients and monitoring there, and stop cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, '--port', '0', '-m', '0', '--cluster_id', 'cli-cluster'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    const [url, monitorUrl] = await new Promise<[string, string]>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const nats = /listening on (nats:\/\/\S+)/.exec(output)
        const monitor = /monitoring on (http:\/\/\S+)/.exec(output)
        if (nats && monitor) resolve([nats[1]!, monitor[1]!])
      })
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)))
    })
    const serverz = (await (await fetch(`${monitorUrl}/serverz`)).json()) as { cluster_id: string; state: string }
    expect([serverz.cluster_id, serverz.state]).toEqual(['cli-cluster', 'STANDALONE'])

    const sc = stan.connect('cli-cluster', 'cli-test', { url })
    await once(sc, 'connect')
    const guid = await new Promise<string>((resolve, reject) => sc.publish('ch', 'x', (err, g) => (err ? reject(err) : resolve(g))))
    expect(guid).not.toBe('')
    sc.close()
    await once(sc, 'close')

    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
  })

  it('Should refuse an unknown store type with a usage message', async () => {
    const child = spawn(process.execPath, [bin, '--store', 'nope'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = await once(child, 'exit')
    expect(code).toBe(2)
    expect(stderr).toContain('invalid store type: nope')
  })
})
