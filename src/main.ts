import pino from 'pino'
import { ConfigError, loadConfig, loadDotEnv } from './config.js'
import { startInfrastructure } from './embedded/index.js'
import { startService } from './service.js'

/**
 * The process: configuration, logging, the servers (embedded when none is configured), the service,
 * and a graceful stop on SIGINT/SIGTERM. Anything unexpected crashes the process loudly, to be restarted.
 */
async function main(): Promise<void> {
  loadDotEnv()
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(78) // EX_CONFIG
  }
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'order-service' } })
  const infrastructure = await startInfrastructure(config, log)
  const service = await startService(config, infrastructure, log)
  log.info({ url: service.url, embedded: infrastructure.embedded }, 'order-service ready')
  if (process.stdout.isTTY || process.env.npm_lifecycle_event === 'start') console.log(`\n  order-service: ${service.url}\n`)

  let stopping = false
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    await service.stop()
    await infrastructure.stop()
    log.info('stopped')
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

await main()
