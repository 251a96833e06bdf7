import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfig, SETTING_NAMES } from '../../src/config.js'
import { allowedHosts, hostRule } from '../../src/http/middleware/host-check.js'

/**
 * docker-compose.yml cannot be run here (no image registry), so it is held to the configuration instead: every
 * service built from this repository gets only settings the service reads, and they load without a problem.
 */
interface ComposeService {
  build?: string
  entrypoint?: string[]
  environment?: Record<string, string | number>
  healthcheck?: { test: string[] }
  profiles?: string[]
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, ComposeService> }
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const haproxy = readFileSync(new URL('../../deploy/haproxy.cfg', import.meta.url), 'utf8')
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
const ours = Object.entries(compose.services).filter(([, service]) => service.build === '.')

/** The value compose would pass: `${NAME:-default}` gives its default, `${NAME:?message}` a value an operator sets. */
function interpolate(value: string | number): string {
  return String(value).replace(/\$\{([A-Z_]+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_, name: string, fallback: string | undefined) =>
    fallback ?? (name === 'ADMIN_TOKEN' ? 'a-token-of-at-least-16-characters' : `set-${name.toLowerCase()}`),
  )
}

describe('docker-compose.yml', () => {
  it('Should build the service and the publishers from this repository', () => {
    expect(ours.map(([name]) => name).sort()).toEqual(['order-service', 'order-service-jetstream', 'publisher', 'publisher-jetstream'])
  })

  for (const [name, service] of ours) {
    it(`When ${name} starts, then every variable it is given is a setting of the README's table, and they load`, () => {
      const environment = Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(value)]))
      for (const key of Object.keys(environment)) {
        expect(SETTING_NAMES, `${name}: ${key}`).toContain(key)
        expect(readme, `${name}: ${key} in the README's Configuration table`).toContain(`| \`${key}\` |`)
      }
      expect(() => loadConfig(environment, 'container-id')).not.toThrow()
    })
  }

  /** Whether the service as compose configures it answers a request under this Host (src/http/middleware/host-check.ts). */
  const answers = (service: ComposeService, host: string): boolean => {
    const environment = Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(value)]))
    const config = loadConfig(environment, 'container-id')
    return hostRule(allowedHosts(config.HTTP_HOST, config.ALLOWED_HOSTS))(host)
  }

  it("When HAProxy checks a replica's health, then it sends a Host the replicas' ALLOWED_HOSTS answers", () => {
    const backend = haproxy.slice(haproxy.indexOf('backend order-service'))
    const check = /^\s*http-check send meth GET uri \/readyz ver HTTP\/1\.1 hdr host (\S+)\s*$/im.exec(backend)
    expect(check, 'http-check send ... hdr host <name> in deploy/haproxy.cfg').not.toBeNull()
    expect(backend).toMatch(/^\s*option httpchk\s*$/m)
    const host = check![1]!
    expect(answers(compose.services['order-service']!, host), `order-service answers Host: ${host}`).toBe(true)
    // Held to the setting, not passing whatever it is given: without it the check's name is refused.
    const { ALLOWED_HOSTS: _, ...without } = compose.services['order-service']!.environment ?? {}
    expect(answers({ environment: without }, host)).toBe(false)
  })

  it('When a container checks its own health or a client comes through a published loopback port, then the Host is answered', () => {
    const probes = [dockerfile, ...ours.map(([, service]) => service.healthcheck?.test.join(' ') ?? '')].flatMap((text) => [...text.matchAll(/http:\/\/([^/:'"]+)/g)].map((match) => match[1]!))
    expect(probes.length).toBeGreaterThan(0)
    for (const [name, service] of ours.filter(([, each]) => each.environment?.HTTP_HOST !== undefined)) {
      for (const host of [...probes, '127.0.0.1:8000', 'localhost:8001']) expect(answers(service, host), `${name}: Host ${host}`).toBe(true)
    }
  })

  for (const [name, service] of ours.filter(([, each]) => each.healthcheck !== undefined)) {
    it(`Should check ${name}'s health on the container's HTTP_PORT, not a fixed port`, () => {
      expect(service.healthcheck!.test.join(' ')).toContain('process.env.HTTP_PORT')
    })
  }
})
