/** Ports for the servers a scenario kills and restarts on the same port (broker, PostgreSQL, the service). */
export { restartablePort as freePort } from '../../test/support/ports.js'
