/**
 * Runs a compiled broker command line (dist/src/stan-server/cli.js exports main(argv) and does not run itself):
 *   node bench/lib/broker-entry.mjs <cli.js> --port 0 --cluster_id bench
 */
import { pathToFileURL } from 'node:url'

const [cli, ...argv] = process.argv.slice(2)
if (cli === undefined) throw new Error('usage: broker-entry.mjs <cli.js> [broker options]')
const { main } = await import(pathToFileURL(cli).href)
await main(argv)
