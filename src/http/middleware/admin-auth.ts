import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { Context, MiddlewareHandler } from 'hono'
import { errorResponse } from '../errors.js'
import { remoteAddress, requestHeader, type AppEnv } from '../node-request.js'

/**
 * Guards the admin routes (dead letters and the newest orders hold personal data). With a token: `Authorization: Bearer <token>`
 * or 401. Without one: local operators only, else 403. A local operator is a loopback peer whose request
 * carries no `Forwarded` or `X-Forwarded-For`: a reverse proxy or load balancer on the same host connects from
 * loopback on behalf of anyone, and says so in those headers. A request whose peer is unknown is not loopback.
 * The token is read from that header alone: never a cookie (a browser would attach it to another site's forms too)
 * nor the URL (kept in logs and histories).
 */
export function adminAuth(token: string | undefined): MiddlewareHandler<AppEnv> {
  if (token === undefined) {
    return async (c, next) => {
      if (!isLocalOperator(c)) {
        return errorResponse(403, 'forbidden', 'Without ADMIN_TOKEN, admin routes answer only loopback clients that come through no proxy')
      }
      await next()
    }
  }
  const expected = digest(token)
  return async (c, next) => {
    const presented = bearerToken(requestHeader(c, 'authorization'))
    // Digests have equal lengths, so the comparison takes the same time whatever was presented.
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      return errorResponse(401, 'unauthorized', 'Send Authorization: Bearer <ADMIN_TOKEN>', { 'www-authenticate': 'Bearer' })
    }
    await next()
  }
}

function isLocalOperator(c: Context<AppEnv>): boolean {
  if (requestHeader(c, 'forwarded') !== undefined || requestHeader(c, 'x-forwarded-for') !== undefined) return false
  return isLoopback(remoteAddress(c))
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header)
  return match?.[1]
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  if (address === '::1') return true
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return isIP(v4) === 4 && v4.startsWith('127.')
}
