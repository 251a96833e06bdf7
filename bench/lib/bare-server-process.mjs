/**
 * The read ceiling: a bare node:http server that answers every request with one prebuilt order, with no routing
 * and no lookup. Plain JavaScript run by plain node (no TypeScript loader), so its memory is Node's own.
 * Run as a child process by bare-server.ts:
 *   node bench/lib/bare-server-process.mjs <response-file>
 * where the file holds { "headers": {...}, "body": "..." }. It reports { port } over IPC once listening,
 * and exits on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const responseFile = process.argv[2]
if (responseFile === undefined) throw new Error('usage: bare-server-process.mjs <response-file>')
const response = JSON.parse(readFileSync(responseFile, 'utf8'))
const body = Buffer.from(response.body)
const headers = { ...response.headers, 'content-length': String(body.byteLength) }

const server = createServer((_request, res) => {
  res.writeHead(200, headers)
  res.end(body)
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port })
})
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
