import type { MiddlewareHandler } from 'hono'
import { errorResponse } from '../errors.js'
import { requestHost, type AppEnv } from '../node-request.js'

/**
 * The names the service is reached by: `*` for any (no check), or host names and IP addresses as a Host header
 * writes them without its port (lower-case, IPv6 in brackets).
 */
export type AllowedHosts = '*' | readonly string[]

/** Always allowed: a browser sends these only for a page it loaded from this machine itself. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']

/** Addresses that bind every interface: no client writes them in a Host header. */
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]'])

/**
 * The allowed hosts of a service bound to `httpHost` (HTTP_HOST) with `extra` (ALLOWED_HOSTS) added: the loopback
 * names on any port, HTTP_HOST itself when it names one address, and the extra names; `*` turns the check off.
 */
export function allowedHosts(httpHost: string, extra: AllowedHosts): AllowedHosts {
  if (extra === '*') return '*'
  const bound = httpHost.toLowerCase()
  const own = WILDCARD_ADDRESSES.has(bound) ? [] : [bound.includes(':') && !bound.startsWith('[') ? `[${bound}]` : bound]
  return [...new Set([...LOOPBACK_NAMES, ...own, ...extra])]
}

/** Decides a request's Host header; an absent or malformed one is refused. */
export type HostRule = (host: string | undefined) => boolean

/**
 * Against DNS rebinding: a web page whose name is re-pointed at this service's address reads its answers as its
 * own, unless the service refuses requests whose Host is a name it is not reached by. The port is not compared:
 * a rebinding page names the service's port itself, so only the name tells it apart.
 */
export function hostRule(allowed: AllowedHosts): HostRule {
  if (allowed === '*') return () => true
  const names = new Set(allowed)
  // Clients send the same Host on every request: the last one allowed is compared whole before any is parsed.
  let lastAllowed: string | undefined
  return (host) => {
    if (host === undefined) return false
    if (host === lastAllowed) return true
    const name = hostName(host.toLowerCase())
    if (name === undefined || !names.has(name)) return false
    lastAllowed = host
    return true
  }
}

/** The name part of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), or undefined when it is none of those. */
function hostName(host: string): string | undefined {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':')
  if (end === 0) return undefined
  if (end === -1) return host
  const port = host.slice(end)
  if (port !== '' && !/^:\d{1,5}$/.test(port)) return undefined
  return host.slice(0, end)
}

/** 421 Misdirected Request: the status for a request sent to a server that does not serve its host. */
export const HOST_REFUSED = {
  status: 421,
  code: 'unknown_host',
  message: 'This service is not reached by this host name; an operator can add it to ALLOWED_HOSTS',
} as const

export const hostRefused = (): Response => errorResponse(HOST_REFUSED.status, HOST_REFUSED.code, HOST_REFUSED.message)

/** Refuses a request whose Host is not allowed: 421 unknown_host, before anything else runs. */
export function hostCheck(isAllowed: HostRule): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!isAllowed(requestHost(c))) return hostRefused()
    await next()
  }
}

