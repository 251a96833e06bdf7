import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnProcess } from '../src/child-process.js'
import { withTimeout } from '../src/timeout.js'
import { canListen, occupyPort, restartablePort } from './support/ports.js'

/** src/main.ts as `npm start` runs it (through tsx here: the test needs no build), in a directory of its own. */
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const tsx = new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url).href
const EXIT_BOUND_MS = 20_000

type Setting = 'HTTP_PORT' | 'EMBEDDED_STAN_PORT' | 'EMBEDDED_POSTGRES_PORT'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs the process with every port free but `taken`'s, which another program holds; resolves when it exits. */
async function startWithTaken(taken: Setting) {
  const dataDir = await mkdtemp(join(tmpdir(), 'order-service-main-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const ports: Record<Setting, number> = {
    HTTP_PORT: await restartablePort(),
    EMBEDDED_STAN_PORT: await restartablePort(),
    EMBEDDED_POSTGRES_PORT: await restartablePort(),
  }
  const other = await occupyPort()
  cleanups.push(other.close)
  ports[taken] = other.port
  const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])) }
  const child = spawnProcess(process.execPath, ['--import', tsx, main], { cwd: dataDir, env })
  cleanups.push(async () => void (await child.stop('SIGKILL', EXIT_BOUND_MS)))
  const { code } = await withTimeout(child.exited, EXIT_BOUND_MS, () => {
    throw new Error(`no exit within ${EXIT_BOUND_MS} ms; stderr: ${child.errorOutput()}`)
  })
  const stderr = child.errorOutput()
  const others = (Object.keys(ports) as Setting[]).filter((name) => name !== taken).map((name) => ports[name])
  return { code, stderrLines: stderr.split('\n').filter((line) => line.trim() !== ''), port: ports[taken], others, dataDir }
}

describe('npm start with a port already taken', () => {
  it.each([
    ['HTTP_PORT', /set HTTP_PORT to a free port/],
    ['EMBEDDED_STAN_PORT', /set EMBEDDED_STAN_PORT to a free port, or STAN_URL/],
    ['EMBEDDED_POSTGRES_PORT', /set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL/],
  ] as const)('When %s is taken, then one line names the port and the setting, the exit is non-zero and nothing is left running', async (setting, remedy) => {
    const run = await startWithTaken(setting)

    expect(run.code).toBe(78)
    expect(run.stderrLines).toHaveLength(1)
    expect(run.stderrLines[0]).toContain(`Port ${run.port} on 127.0.0.1 (${setting})`)
    expect(run.stderrLines[0]).toMatch(remedy)
    // Checked before anything started: no embedded PostgreSQL was created, and no port is held.
    expect(existsSync(join(run.dataDir, 'postgres', 'pgdata', 'postmaster.pid'))).toBe(false)
    for (const port of run.others) expect(await canListen(port), `port ${port}`).toBe(true)
  })
})
