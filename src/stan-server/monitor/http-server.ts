/**
 * HTTP monitoring, on the paths of the real server: /streaming/serverz, storez,
 * clientsz (?client=ID, ?subs=1, offset, limit) and channelsz (?channel=name,
 * ?subs=1, offset, limit). Responses are indented JSON; errors are plain text
 * with the real server's wording.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { channelsz, clientsz, oneChannelz, oneClientz, page, serverz, storez, type MonitorSource } from './views.js'

export interface MonitorServer {
  readonly url: string
  close(): Promise<void>
}

export async function startMonitor(source: MonitorSource, host: string, port: number): Promise<MonitorServer> {
  const server = createServer((req, res) => respond(source, req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}

function respond(source: MonitorSource, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://monitor')
  const query = url.searchParams
  const withSubs = atoi(query.get('subs')) === 1
  const paging = () => page(atoi(query.get('offset')), atoi(query.get('limit')))
  switch (url.pathname) {
    case '/streaming':
      return send(res, 200, 'text/html; charset=utf-8', ROOT_PAGE)
    case '/streaming/serverz':
      return sendJson(res, serverz(source))
    case '/streaming/storez':
      return sendJson(res, storez(source))
    case '/streaming/clientsz': {
      const id = query.get('client') ?? ''
      if (id === '') return sendJson(res, clientsz(source, paging(), withSubs))
      const client = oneClientz(source, id, withSubs)
      return client === undefined ? sendError(res, 404, `Client ${id} not found`) : sendJson(res, client)
    }
    case '/streaming/channelsz': {
      const name = query.get('channel') ?? ''
      if (name === '') return sendJson(res, channelsz(source, paging(), withSubs))
      const channel = oneChannelz(source, name, withSubs)
      return channel === undefined ? sendError(res, 404, `Channel ${name} not found`) : sendJson(res, channel)
    }
    default:
      return sendError(res, 404, '404 page not found')
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.setHeader('Access-Control-Allow-Origin', '*')
  send(res, 200, 'application/json', JSON.stringify(body, null, 2))
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff')
  send(res, status, 'text/plain; charset=utf-8', `${message}\n`)
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

/** As Go's strconv.Atoi: a whole decimal number or nothing. */
function atoi(text: string | null): number | undefined {
  if (text === null || !/^[+-]?\d+$/.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

const ROOT_PAGE = `<html lang="en">
  <body>
    <h1>NATS Streaming (embedded)</h1>
    <a href=./streaming/serverz>server</a><br/>
    <a href=./streaming/storez>store</a><br/>
    <a href=./streaming/clientsz>clients</a><br/>
    <a href=./streaming/channelsz>channels</a><br/>
  </body>
</html>
`
