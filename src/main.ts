import pino from 'pino'
import { loadConfig, loadDotEnv } from './config.js'
import { embeddedPorts, startInfrastructure } from './embedded/index.js'
import { ConfigError, PortInUseError, StartupError } from './errors.js'
import { takenPorts } from './port-check.js'
import { startService } from './service.js'

/** EX_CONFIG: the configuration, or the machine it meets, needs a change before a start can succeed. */
const EX_CONFIG = 78

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
    process.exit(EX_CONFIG)
  }
  // Every taken port, one line each, before anything is started that would have to be stopped again.
  const taken = await takenPorts([{ setting: 'HTTP_PORT', host: config.HTTP_HOST, port: config.HTTP_PORT }, ...(await embeddedPorts(config))])
  if (taken.length > 0) {
    for (const error of taken) console.error(error.message)
    process.exit(EX_CONFIG)
  }
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'order-service' } })

  // Signals are handled from the start: a stop while PostgreSQL is still awaited is a clean stop too.
  const startup = new AbortController()
  const starting = (async () => {
    const infrastructure = await startInfrastructure(config, log)
    try {
      return { infrastructure, service: await startService(config, infrastructure, log, startup.signal) }
    } catch (error) {
      await infrastructure.stop()
      throw error
    }
  })()

  let stopping = false
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    startup.abort()
    const started = await starting.catch(() => undefined)
    await started?.service.stop()
    await started?.infrastructure.stop()
    log.info('stopped')
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  const started = await starting.catch((error: unknown) => {
    if (startup.signal.aborted) return undefined // stop() finishes the job
    // A port lost to another program after the check, or a problem waiting will not fix (no nats-server, a stream
    // without the subject): one line, and what was started is stopped already.
    if (error instanceof PortInUseError || error instanceof StartupError) {
      log.fatal({ code: error.code }, error.message)
      console.error(error.message)
      process.exit(EX_CONFIG)
    }
    throw error
  })
  if (started === undefined) return
  log.info({ url: started.service.url, embedded: started.infrastructure.embedded }, 'order-service ready')
  if (process.stdout.isTTY || process.env.npm_lifecycle_event === 'start') console.log(`\n  order-service: ${started.service.url}\n`)
}

await main()
