import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startInfrastructure } from '../../src/embedded/index.js'
import { PortInUseError, StartupError } from '../../src/errors.js'
import { canListen, occupyPort, restartablePort } from '../support/ports.js'

/**
 * A port lost to another program at listen time (after main.ts's check, or with none): the embedded servers'
 * start says which setting to change and stops what it started. The issue's case: PostgreSQL started, then the
 * broker's port was taken.
 */
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startWithTaken(setting: 'EMBEDDED_STAN_PORT' | 'EMBEDDED_POSTGRES_PORT') {
  const dataDir = await mkdtemp(join(tmpdir(), 'order-service-embedded-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  // As root, PostgreSQL runs as the postgres OS user, which must reach the data directory through this one.
  await chmod(dataDir, 0o755)
  const other = await occupyPort()
  cleanups.push(other.close)
  const ports = { EMBEDDED_STAN_PORT: await restartablePort(), EMBEDDED_POSTGRES_PORT: await restartablePort(), [setting]: other.port }
  const config = loadConfig({ DATA_DIR: dataDir, EMBEDDED_STAN_PORT: String(ports.EMBEDDED_STAN_PORT), EMBEDDED_POSTGRES_PORT: String(ports.EMBEDDED_POSTGRES_PORT) })
  const failure = await startInfrastructure(config, pino({ level: 'silent' })).then(
    async (started) => {
      await started.stop()
      throw new Error('started with a port taken')
    },
    (error: unknown) => error,
  )
  return { failure, ports, dataDir }
}

describe('embedded servers with a port lost at listen time', () => {
  it('When the broker port is taken after PostgreSQL started, then the error names EMBEDDED_STAN_PORT and PostgreSQL is stopped', async () => {
    const { failure, ports, dataDir } = await startWithTaken('EMBEDDED_STAN_PORT')
    expect(failure).toBeInstanceOf(PortInUseError)
    expect(failure).toMatchObject({ code: 'port_in_use', setting: 'EMBEDDED_STAN_PORT', port: ports.EMBEDDED_STAN_PORT })
    expect(existsSync(join(dataDir, 'postgres', 'pgdata', 'PG_VERSION'))).toBe(true)
    expect(existsSync(join(dataDir, 'postgres', 'pgdata', 'postmaster.pid'))).toBe(false)
    expect(await canListen(ports.EMBEDDED_POSTGRES_PORT)).toBe(true)
  })

  it('When the PostgreSQL port is taken, then the error names EMBEDDED_POSTGRES_PORT and no PostgreSQL is left running', async () => {
    const { failure, ports, dataDir } = await startWithTaken('EMBEDDED_POSTGRES_PORT')
    expect(failure).toBeInstanceOf(PortInUseError)
    expect(failure).toMatchObject({ code: 'port_in_use', setting: 'EMBEDDED_POSTGRES_PORT', port: ports.EMBEDDED_POSTGRES_PORT })
    expect(existsSync(join(dataDir, 'postgres', 'pgdata', 'postmaster.pid'))).toBe(false)
  })
})

describe('embedded PostgreSQL run as root', () => {
  // PostgreSQL refuses root, so as root it runs as the OS user postgres; a clone under /root (700) keeps DATA_DIR there.
  it.runIf(process.getuid?.() === 0)('When DATA_DIR lies in a folder other users cannot enter, then start-up fails in one line naming it and DATA_DIR, and starts nothing', async () => {
    const closed = await mkdtemp(join(tmpdir(), 'order-service-closed-'))
    cleanups.push(() => rm(closed, { recursive: true, force: true }))
    await chmod(closed, 0o700)
    const port = await restartablePort()
    const config = loadConfig({ DATA_DIR: join(closed, 'data'), EMBEDDED_POSTGRES_PORT: String(port) })
    const failure = await startInfrastructure(config, pino({ level: 'silent' })).then(
      async (started) => {
        await started.stop()
        throw new Error('started in a folder closed to the postgres user')
      },
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(StartupError)
    expect(failure).toMatchObject({ code: 'data_dir_unreachable' })
    const message = (failure as Error).message
    expect(message).toContain(`cannot enter ${closed} (mode 700)`)
    expect(message).toContain('DATA_DIR')
    expect(message).not.toContain('\n')
    expect(existsSync(join(closed, 'data', 'postgres', 'pgdata'))).toBe(false)
    expect(await canListen(port)).toBe(true)
  })
})
