/**
 * The benchmark entry (docs/performance.md): `npm run bench`, or `npm run bench -- --quick` for a smoke run with
 * smaller counts. Starts its own embedded PostgreSQL, builds the service into a temp dir, runs the broker and the
 * service as processes of their own, and runs the measurements: by default all of them, each figure beside its
 * ceiling, into one table with the targets of issue 6 and its JSON copy in bench/results/ (latest.json, or
 * quick.json for --quick); or one loop, in `--rounds N` rounds (default 3), printing rows and writing no report:
 *   --ingest-only   the ingest ceiling and the service end to end (bench/ingest-end-to-end.ts); `--jetstream` adds
 *                   the service on JetStream, `--instances N` a run of N services in one queue group;
 *   --read-only     the bare server and the service on the same cached orders (bench/read.ts);
 *   --latency       ingest latency under steady traffic (bench/ingest-latency.ts): `--rate N` orders/s (default
 *                   500) for `--seconds N` (default 20) after `--warmup N` (default 5); `--jetstream` adds JetStream.
 * In the loops, each `--env 'NAME=value …'` adds a service run with those settings, and `--baseline REF` one of the
 * service built from commit REF, so before and after are measured in one run. `--cpu-prof` also writes a CPU
 * profile of the broker and of every service process (its directory is printed and kept; bench/profile-top.ts).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Cleanup } from '../test/support/cleanup.js'
import { measureIngestCeiling } from './ingest-ceiling.js'
import { measureIngestEndToEnd, measureIngestRounds } from './ingest-end-to-end.js'
import { formatLatencyTable, measureLatencyRounds } from './ingest-latency.js'
import { PLANS, type Bench, type Variant } from './lib/bench.js'
import { startBroker } from './lib/broker.js'
import { startBenchNats } from './lib/nats-server.js'
import { orderSet } from './lib/orders.js'
import { startBenchDatabase } from './lib/postgres.js'
import { describeMachine, formatTable, sortByGroup, writeReport, type Report, type Row } from './lib/report.js'
import { buildService } from './lib/service-build.js'
import { expectWrk } from './lib/wrk.js'
import { measureReadRounds, measureReads } from './read.js'
import { measureLargeTable, measureRestoreAndMemory, measureSmallTables } from './restore-and-memory.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'ingest-only': { type: 'boolean', default: false },
    'read-only': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    env: { type: 'string', multiple: true, default: [] },
    baseline: { type: 'string' },
    jetstream: { type: 'boolean', default: false },
    instances: { type: 'string', default: '1' },
    latency: { type: 'boolean', default: false },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
  },
})
const mode: Report['mode'] = values.quick ? 'quick' : 'full'
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number of at least 1')
if (!values['ingest-only'] && !values.latency) await expectWrk()
/** One of the loops, which take --env and --baseline; else the full run. */
const loop = values['ingest-only'] || values['read-only'] || values.latency

const cleanup = new Cleanup()
cleanup.onSignals()
// Every child process and temp dir holds an exit hook until cleanup (last-resort kill and removal): a run has ~20.
process.setMaxListeners(64)
const startedAt = new Date().toISOString()
const rows: Row[] = []
const add = (row: Row) => {
  rows.push(row)
  console.error(`  ${row.group} / ${row.name}: ${row.value === null ? 'TODO' : row.value.toFixed(2)} ${row.unit}${row.note ? ` (${row.note})` : ''}`)
}
try {
  const serviceFlags: string[] = []
  if (values['cpu-prof']) {
    // Kept after the run (not a cleanup temp dir): the profiles are what was asked for.
    const dir = await mkdtemp(join(tmpdir(), 'order-bench-profiles-'))
    serviceFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
    console.error(`CPU profiles of the service processes: ${dir}`)
  }
  const [db, build] = await Promise.all([startBenchDatabase(cleanup), buildService(cleanup)])
  const broker = await startBroker(cleanup, build, serviceFlags)
  const variants: Variant[] = loop ? values.env.map((text) => ({ label: `with ${text}`, build, env: parseEnv(text) })) : []
  if (loop && values.baseline !== undefined) variants.push({ label: `built from ${values.baseline}`, build: await buildService(cleanup, values.baseline), env: {} })
  const nats = values.jetstream && (values.latency || (values['ingest-only'] && !values['read-only'])) ? await startBenchNats(cleanup) : undefined
  if (values.latency) {
    const steady = { rate: Number(values.rate), seconds: Number(values.seconds), warmupSeconds: Number(values.warmup) }
    const latencies = await measureLatencyRounds({ cleanup, db, build, broker, serviceFlags }, steady, rounds, variants, nats)
    console.log(formatLatencyTable(latencies, { startedAt, postgres: db.version, steady, rounds }))
  } else {
    const plan = PLANS[mode]
    console.error(`${mode} run: ${plan.orders.toLocaleString('en-US')} orders`)
    const bench: Bench = { cleanup, db, build, broker, plan, set: orderSet(plan.orders), serviceFlags, add }
    if (values['read-only']) await measureReadRounds(bench, rounds, variants)
    else if (values['ingest-only']) await measureIngestRounds(bench, rounds, variants, nats, Number(values.instances))
    else await fullRun(bench)
  }
} catch (error) {
  // Interrupted: the connections were closed under the running measurement; that is not a failure to report.
  if (!cleanup.started) throw error
} finally {
  await cleanup.run()
}

/** Every measurement, in the order the table's contents need: each leaves the orders stored the next reads. */
async function fullRun(bench: Bench): Promise<void> {
  await measureIngestCeiling(bench)
  const emptyRss = await measureSmallTables(bench)
  await measureIngestEndToEnd(bench)
  await measureReads(bench, await measureRestoreAndMemory(bench, emptyRss))
  if (bench.plan.largeTable > 0) await measureLargeTable(bench, emptyRss)
  const report: Report = {
    mode,
    startedAt,
    finishedAt: new Date().toISOString(),
    command: `node --import tsx bench/run.ts${mode === 'quick' ? ' --quick' : ''}`,
    machine: describeMachine(bench.db.version),
    rows: sortByGroup(rows),
  }
  const path = new URL(`./results/${mode === 'quick' ? 'quick' : 'latest'}.json`, import.meta.url).pathname
  await writeReport(path, report)
  console.log(formatTable(report))
  console.log(`\nJSON copy: ${path}`)
}

/** `--env 'A=1 B=2'` as { A: '1', B: '2' }. */
function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split(/\s+/).filter(Boolean).map((pair) => {
      const at = pair.indexOf('=')
      if (at < 1) throw new Error(`--env takes NAME=value pairs, not ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}
