import type { Scenario } from '../lib/harness.js'
import { brokerRestart } from './broker-restart.js'

/**
 * The broker-restart scenario on three clustered nats-server nodes with an R3 stream, the service given the server
 * list: each kill takes down the node leading the stream, mid-ingest, and restarts it; the other two elect a leader
 * and the service fails over to them.
 */
export const clusterLeaderKill: Scenario = {
  ...brokerRestart,
  name: 'cluster-leader-kill',
  summary: '3 nats-server nodes, an R3 stream: the stream leader SIGKILLed during ingest and restarted',
  transports: ['jetstream'],
  cluster: true,
}
