import { createServer } from 'node:http'
import { isAddressInUse, PortInUseError } from '../errors.js'
import type { OrderServiceApp } from './app.js'
import { createRequestListener } from './order-by-id.js'

export interface HttpServer {
  /** The page's URL, with the bound port. */
  url: string
  /** Stops listening; idle keep-alive connections are closed too (Node 19+), so it does not wait for clients to leave. */
  close(): Promise<void>
}

/**
 * Serves the app on node:http, with GET /order/:id answered ahead of Hono (src/http/order-by-id.ts). A port taken
 * by another program is a PortInUseError naming HTTP_PORT.
 */
export async function serveHttp({ app, orderAnswers }: OrderServiceApp, hostname: string, port: number): Promise<HttpServer> {
  const server = createServer(createRequestListener({ app, answers: orderAnswers, hostname }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, hostname, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((error: unknown) => {
    throw isAddressInUse(error) ? new PortInUseError('HTTP_PORT', hostname, port, { cause: error }) : error
  })
  const address = server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  return {
    url: `http://${urlHost(hostname)}:${bound}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** How a browser on this machine reaches a server bound to `host`: the wildcard addresses through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
