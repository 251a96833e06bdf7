import type { Scenario } from '../lib/harness.js'
import { accountingSelfCheck } from './accounting-self-check.js'
import { allTogether } from './all-together.js'
import { brokerRestart } from './broker-restart.js'
import { clusterLeaderKill } from './cluster-leader-kill.js'
import { gateFuzz } from './gate-fuzz.js'
import { hostileInput } from './hostile-input.js'
import { httpAbuse } from './http-abuse.js'
import { postgresDownAtStart } from './postgres-down-at-start.js'
import { postgresOutage } from './postgres-outage.js'
import { republish } from './republish.js'
import { serviceSigkill } from './service-sigkill.js'
import { serviceSigterm } from './service-sigterm.js'
import { slowDatabase } from './slow-database.js'

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
  clusterLeaderKill,
  httpAbuse,
  allTogether,
]
