import { setTimeout as sleep } from 'node:timers/promises'
import { seededRandom, type Random } from '../../src/publisher/seeded-random.js'
import type { Sql } from '../../src/store/db.js'
import { accountServed, accountStored, type ServedAccount } from './accounting.js'
import type { FreezingProxy } from '../../test/support/tcp-proxy.js'
import { Ledger, type Outgoing } from './ledger.js'
import { mixedMessages } from './messages.js'
import type { PostgresCluster } from '../../test/support/postgres.js'
import type { PostgresPair } from '../../test/support/postgres-pair.js'
import { publish, type PublishOptions } from './publisher.js'
import type { Check, ScenarioResult } from './report.js'
import type { ServiceProcess } from './service-process.js'
import type { Sizes } from './sizes.js'
import type { ScenarioBroker, ServiceSettings, TransportName } from './transport.js'

export interface ScenarioScope {
  /** Another instance of the service: same database, broker, channel and queue group; its own port and client id. */
  newInstance(name: string): Promise<ServiceProcess>
  /** Runs `undo` when the scenario's processes are cleaned up, after its accounting. */
  defer(name: string, undo: () => Promise<void>): void
  /** The other transport's broker (NATS Streaming beside JetStream, or the reverse), started; one node. */
  otherBroker(): Promise<ScenarioBroker>
  /**
   * An instance of the service on `broker` (same database; its own port and client id), not started. Unlike
   * addInstance, the accounting leaves it as the scenario left it: a scenario that stops it checks it itself.
   */
  instanceOn(broker: ScenarioBroker, name: string): Promise<ServiceProcess>
  /** The primary and standby the service uses, for scenarios with `postgresPair`. */
  pair?: PostgresPair
  /** Between PgBouncer and PostgreSQL, for scenarios with `pgbouncer`: freezes the pooler's server connections. */
  behindPooler?: FreezingProxy
}

const NO_SCOPE: ScenarioScope = {
  newInstance: () => Promise.reject(new Error('no second instance here')),
  defer: () => {},
  otherBroker: () => Promise.reject(new Error('no other broker here')),
  instanceOn: () => Promise.reject(new Error('no other instance here')),
}

/** Everything a scenario works with: the three processes, the ledger, and a place to record faults and checks. */
export class ScenarioContext {
  readonly ledger = new Ledger()
  readonly random: Random
  readonly faults: Record<string, number> = {}
  readonly checks: Check[] = []
  readonly notes: string[] = []
  /** The next unused generateOrder index, so two mixes of one scenario never share an order_uid. */
  #nextIndex = 0

  constructor(
    readonly name: string,
    readonly sizes: Sizes,
    readonly seed: number,
    readonly settings: ServiceSettings,
    readonly pg: PostgresCluster,
    readonly broker: ScenarioBroker,
    readonly service: ServiceProcess,
    /** A pool on the scenario's database, for the accounting and for faults such as a held lock. */
    readonly sql: Sql,
    /** The freezing proxies between the service and PostgreSQL and the broker, for scenarios with `proxied`. */
    readonly proxies?: Proxies,
    /** What the runner gives a scenario beyond the three processes: more instances, and undo steps of its own. */
    readonly scope: ScenarioScope = NO_SCOPE,
  ) {
    this.random = seededRandom(seed, 0x5ce)
  }

  /** The instances beside `service` that the scenario started (see addInstance). */
  readonly others: ServiceProcess[] = []

  /** Every instance: `service` first. */
  instances(): ServiceProcess[] {
    return [this.service, ...this.others]
  }

  /** Creates another instance (not started); the accounting serves every order through each one and stops them all. */
  async addInstance(): Promise<ServiceProcess> {
    const instance = await this.scope.newInstance(String(this.others.length + 2))
    this.others.push(instance)
    return instance
  }

  /** `valid` new orders with `hostile` messages among them. */
  mix(valid: number, hostile: number): Outgoing[] {
    const first = this.#nextIndex
    this.#nextIndex += valid
    return mixedMessages({ seed: this.seed, first, valid, hostile, maxMessageBytes: this.settings.maxMessageBytes })
  }

  publish(messages: readonly Outgoing[], options: PublishOptions = {}): Promise<void> {
    return publish(this.broker, this.settings, this.ledger, messages, options)
  }

  /**
   * Publishes while the scenario goes on breaking things; `done` settles when the broker acked everything.
   * The rejection is held until awaited, so a failed publish cannot crash the runner meanwhile.
   */
  publishInBackground(messages: readonly Outgoing[], options: PublishOptions = {}): { done: Promise<void>; isDone(): boolean } {
    let finished = false
    const done = this.publish(messages, options).finally(() => (finished = true))
    done.catch(() => {})
    return { done, isDone: () => finished }
  }

  /** A publishing pace that spreads `count` messages over about `seconds`. */
  rateFor(count: number, seconds: number): number {
    return Math.max(50, Math.round(count / seconds))
  }

  fault(kind: string, times = 1): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + times
  }

  check(name: string, ok: boolean, detail = ''): void {
    this.checks.push({ name, ok, detail })
  }

  note(text: string): void {
    this.notes.push(text)
  }

  /** A random delay in [minMs, maxMs]. */
  pause(minMs: number, maxMs: number): Promise<void> {
    return sleep(this.random.int(minMs, maxMs))
  }

  /** Rows written so far (orders + dead letters), or undefined while the database does not answer. */
  async rowsWritten(): Promise<number | undefined> {
    try {
      const [row] = await this.sql<{ n: number }[]>`select (select count(*) from orders)::int + (select count(*) from dead_letters)::int as n`
      return row?.n
    } catch {
      return undefined
    }
  }

  /**
   * Waits until as many rows exist as the ledger expects, or nothing has changed for `stallMs`. A service that
   * exited on its own meanwhile is started again (and its crash is reported by the checks).
   */
  async waitForDrain(stallMs = 30_000): Promise<void> {
    const expected = this.ledger.orders.size + this.ledger.deadLetterCount()
    let last = -1
    let lastChange = Date.now()
    for (;;) {
      for (const instance of this.instances()) {
        if (instance.isRunning()) continue
        this.note(`an instance had exited on its own during ingest; started again to drain`)
        await instance.startReady()
      }
      const written = await this.rowsWritten()
      if (written !== undefined && written >= expected) return
      if (written !== last) {
        last = written ?? last
        lastChange = Date.now()
      } else if (Date.now() - lastChange > stallMs) {
        this.note(`drain stalled at ${written} of ${expected} rows for ${stallMs / 1000} s`)
        return
      }
      await sleep(200)
    }
  }
}

/**
 * The accounting after a scenario: drain, GET every order from the running service, stop it gracefully, compare
 * the tables with the ledger, and check that its durable has nothing pending.
 */
export async function finish(ctx: ScenarioContext, started: number): Promise<ScenarioResult> {
  await ctx.pg.start()
  const instances = ctx.instances()
  for (const instance of instances) if (!instance.isRunning()) await instance.startReady()
  await ctx.waitForDrain()
  // A moment for anything still on its way (a late redelivery) to be written, so "doubled" can see it.
  await sleep(ctx.settings.ackWaitMs + 500)
  const served: ServedAccount = { checked: 0, mismatched: 0, problems: [] }
  let duplicates = 0
  // Every order is served, equal, by every instance: by the one that wrote it and by the others alike.
  for (const instance of instances) {
    await instance.waitReady()
    const account = await accountServed(instance.port, ctx.ledger)
    served.checked += account.checked
    served.mismatched += account.mismatched
    served.problems.push(...account.problems.map((problem) => (instances.length > 1 ? `instance on port ${instance.port}: ${problem}` : problem)))
  }
  for (const instance of instances) {
    await instance.scrape()
    duplicates += instance.duplicatesAbsorbed()
    const life = await instance.terminate()
    const which = instances.length > 1 ? ` (instance on port ${instance.port})` : ''
    ctx.check(`graceful stop at the end${which}`, life !== undefined && life.status.code === 0 && life.forced !== true, life ? `exit ${life.status.code ?? life.status.signal} in ${life.stopMs} ms` : 'not running')
    const crashes = instance.crashes()
    ctx.check(`the service never exited on its own${which}`, crashes.length === 0, crashes.map((c) => `pid ${c.pid}: code ${c.status.code} signal ${c.status.signal}`).join('; '))
  }
  const stored = await accountStored(ctx.sql, ctx.ledger)
  const probe = await ctx.broker.pending(ctx.settings)
  const pending = 'pending' in probe ? probe.pending : -1
  if ('error' in probe) ctx.check('durable check', false, probe.error)
  else ctx.check('nothing pending on the durable', probe.pending === 0, probe.pending > 0 ? `sequences ${probe.sequences.join(', ')}` : '')

  const ok =
    stored.lost === 0 &&
    stored.doubled === 0 &&
    stored.unexpected === 0 &&
    stored.mismatched === 0 &&
    served.mismatched === 0 &&
    pending === 0 &&
    ctx.checks.every((check) => check.ok)
  return {
    name: ctx.name,
    ok,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    published: { valid: ctx.ledger.valid, invalid: ctx.ledger.invalid },
    stored: stored.stored,
    deadLettered: stored.deadLettered,
    duplicatesAbsorbed: duplicates,
    lost: stored.lost,
    doubled: stored.doubled,
    unexpected: stored.unexpected,
    mismatched: stored.mismatched + served.mismatched,
    served: served.checked,
    pending,
    faults: ctx.faults,
    checks: ctx.checks,
    perLabel: stored.perLabel,
    problems: [...stored.problems, ...served.problems],
    notes: ctx.notes,
  }
}

export interface Proxies {
  postgres: FreezingProxy
  broker: FreezingProxy
}

/** One fault scenario: it starts the service itself (the start-up may be part of the fault) and publishes. */
export interface Scenario {
  name: string
  /** One line for the report and --list. */
  summary: string
  /** The service reaches PostgreSQL and the broker through freezing proxies (ctx.proxies); the accounting does not. */
  proxied?: boolean
  /**
   * The transports it runs on (default: both). A scenario written against what one broker alone can do declares
   * it here rather than being forked per transport.
   */
  transports?: readonly TransportName[]
  /** JetStream on three clustered nodes with an R3 stream instead of one node. */
  cluster?: boolean
  /**
   * A primary and a streaming standby of its own instead of a database on the shared server (synchronous unless
   * said; an asynchronous one's replication connection can be frozen: scope.pair.replication); the service and the
   * accounting are given both hosts (target_session_attrs=read-write) in this order.
   */
  postgresPair?: { hosts: 'primary-first' | 'standby-first'; replication?: 'synchronous' | 'asynchronous' }
  /**
   * The service reaches PostgreSQL through PgBouncer in transaction pooling mode (DATABASE_POOLER=transaction), and
   * PgBouncer reaches it through a freezing proxy (scope.behindPooler); the commit listener and the accounting
   * connect directly (DATABASE_LISTEN_URL).
   */
  pgbouncer?: true
  /** false: left out of `--quick` (the CI budget), run by the full suite or when named with --scenario. */
  quick?: false
  run(ctx: ScenarioContext): Promise<void>
}
