import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfig, SETTING_NAMES } from '../../src/config.js'

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

  for (const [name, service] of ours.filter(([, each]) => each.healthcheck !== undefined)) {
    it(`Should check ${name}'s health on the container's HTTP_PORT, not a fixed port`, () => {
      expect(service.healthcheck!.test.join(' ')).toContain('process.env.HTTP_PORT')
    })
  }
})
