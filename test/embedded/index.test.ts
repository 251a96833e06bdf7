import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { startInfrastructure } from '../../src/embedded/index.js'
import { PortInUseError } from '../../src/errors.js'
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
