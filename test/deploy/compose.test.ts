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

/** The README's compose section: its shell lines, comments dropped, in the order written. */
function readmeComposeLines(): string[] {
  const start = readme.indexOf('## Run against real servers (docker compose)')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) =>
    block[1]!
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== ''),
  )
}

/** A `docker compose` command line: the profiles it enables, its subcommand, and the services it names. */
function composeCommand(line: string): { profiles: string[]; subcommand: string; services: string[] } {
  const words = line.split(/\s+/).slice(2)
  const profiles: string[] = []
  while (words[0]?.startsWith('-')) {
    const option = words.shift()!
    if (option === '--profile') profiles.push(words.shift()!)
  }
  const subcommand = words.shift()!
  const services: string[] = []
  const VALUED = new Set(['--scale', '-e', '--env', '--entrypoint', '--name', '-u', '--user', '-w', '--workdir'])
  while (words.length > 0) {
    const word = words.shift()!
    if (VALUED.has(word)) words.shift()
    else if (word.startsWith('-')) continue
    else {
      services.push(word)
      // `run` takes one service; what follows is its command line.
      if (subcommand === 'run') break
    }
  }
  return { profiles, subcommand, services }
}

const composeText = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')
const all = compose.services as Record<string, ComposeService & { depends_on?: unknown; command?: string[] }>

describe("The README's compose commands, as an operator types them from a fresh clone", () => {
  const lines = readmeComposeLines()
  const commands = lines.filter((line) => line.startsWith('docker compose'))

  it('Should name only profiles and services the file has, each service enabled by the profiles given', () => {
    expect(commands.length).toBeGreaterThanOrEqual(5)
    const known = new Set(Object.values(all).flatMap((service) => service.profiles ?? []))
    for (const line of commands) {
      const { profiles, subcommand, services } = composeCommand(line)
      for (const profile of profiles) expect(known, `${line}: profile ${profile}`).toContain(profile)
      if (subcommand === 'run') expect(services, line).toHaveLength(1)
      for (const name of services) {
        expect(Object.keys(all), `${line}: service ${name}`).toContain(name)
        const needs = all[name]!.profiles
        if (needs !== undefined) expect(needs.some((profile) => profiles.includes(profile)), `${line}: ${name} needs --profile ${needs.join('|')}`).toBe(true)
      }
    }
  })

  it("When the file requires a variable (${NAME:?…}), then the README writes it to .env once, before the first compose command, and no command sets it for itself alone", () => {
    const required = [...new Set([...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((match) => match[1]!))]
    expect(required).toContain('ADMIN_TOKEN')
    const writesEnv = lines.findIndex((line) => /> \.env$/.test(line))
    expect(writesEnv, 'a line that writes .env').toBeGreaterThanOrEqual(0)
    expect(writesEnv, '.env written before the first compose command').toBeLessThan(lines.indexOf(commands[0]!))
    // Written once: a second run of the line keeps the token the running services were given.
    expect(lines[writesEnv]).toMatch(/^test -f \.env \|\| /)
    for (const name of required) expect(lines[writesEnv], name).toContain(`${name}=`)
    // Set for one command only, the next command would fail to interpolate the file.
    for (const line of lines) expect(line, line).not.toMatch(/^[A-Z_]+=\S*\s+docker compose/)
  })

  it('Should keep .env out of the image build context and out of git', () => {
    const lines = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').split('\n').map((line) => line.trim())
    expect(lines('.dockerignore')).toContain('.env')
    expect(lines('.gitignore')).toContain('.env')
  })

  it("Should show in docker-compose.yml's header only commands the README has", () => {
    const header = composeText.slice(0, composeText.indexOf('\nname:'))
    const shown = [...header.matchAll(/^#\s+((?:docker compose|test -f) .*)$/gm)].map((match) => match[1]!.trim())
    expect(shown.length).toBeGreaterThanOrEqual(3)
    for (const line of shown) expect(lines, line).toContain(line)
  })
})

describe('docker-compose.yml through a broker fail-over', () => {
  it('When a broker node is down, then the publishers still start: they depend on no node (any of their list will do)', () => {
    expect(all.publisher!.depends_on).toBeUndefined()
    expect(all['publisher-jetstream']!.depends_on).toBeUndefined()
  })

  it('Should give every NATS Streaming node the same fixed NATS cluster name', () => {
    const nodes = Object.entries(all).filter(([name]) => /^stan-\d$/.test(name))
    expect(nodes).toHaveLength(3)
    for (const [name, node] of nodes) expect(node.command, name).toContain('--cluster_name')
    const names = nodes.map(([, node]) => node.command![node.command!.indexOf('--cluster_name') + 1])
    expect(names[0]).toMatch(/^[\w-]+$/)
    expect(new Set(names).size).toBe(1)
  })

  it('Should have HAProxy log to stdout, requests included', () => {
    const haproxy = readFileSync(new URL('../../deploy/haproxy.cfg', import.meta.url), 'utf8')
    expect(haproxy).toMatch(/^global\n(?:\s.*\n)*?\s+log stdout format raw local0$/m)
    expect(haproxy).toMatch(/^defaults\n(?:\s.*\n)*?\s+log global$/m)
    expect(haproxy).toMatch(/^\s+option httplog$/m)
  })
})
