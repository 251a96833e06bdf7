import type { Scenario } from '../lib/harness.js'
import { accountingSelfCheck } from './accounting-self-check.js'
import { allTogether } from './all-together.js'
import { brokerFrozen } from './broker-frozen.js'
import { brokerRestart } from './broker-restart.js'
import { clusterLeaderKill } from './cluster-leader-kill.js'
import { gateFuzz } from './gate-fuzz.js'
import { hostileInput } from './hostile-input.js'
import { instancesSigkill } from './instances-sigkill.js'
import { httpAbuse } from './http-abuse.js'
import { postgresDownAtStart } from './postgres-down-at-start.js'
import { pgbouncer } from './pgbouncer.js'
import { postgresFailoverAsync } from './postgres-failover-async.js'
import { postgresFailover, postgresFailoverReversed, postgresSwitchover } from './postgres-failover.js'
import { postgresFrozen } from './postgres-frozen.js'
import { postgresFrozenAtStart } from './postgres-frozen-at-start.js'
import { postgresFrozenDuringReplay } from './postgres-frozen-during-replay.js'
import { postgresOutage } from './postgres-outage.js'
import { readAcrossInstances } from './read-across-instances.js'
import { republish } from './republish.js'
import { serviceSigkill } from './service-sigkill.js'
import { serverAddressGone, serverListRefusing } from './server-list.js'
import { serviceSigterm } from './service-sigterm.js'
import { slowDatabase } from './slow-database.js'
import { stanToJetStream } from './stan-to-jetstream.js'

/** In the order they run: the accounting's own check and no fault first, then one fault each, then all of them together. */
export const SCENARIOS: readonly Scenario[] = [
  accountingSelfCheck,
  hostileInput,
  gateFuzz,
  republish,
  serviceSigkill,
  serviceSigterm,
  postgresOutage,
  postgresDownAtStart,
  slowDatabase,
  brokerRestart,
  postgresFrozen,
  postgresFrozenAtStart,
  postgresFrozenDuringReplay,
  postgresFailover,
  postgresFailoverReversed,
  postgresSwitchover,
  postgresFailoverAsync,
  pgbouncer,
  brokerFrozen,
  serverListRefusing,
  serverAddressGone,
  instancesSigkill,
  readAcrossInstances,
  stanToJetStream,
  clusterLeaderKill,
  httpAbuse,
  allTogether,
]
