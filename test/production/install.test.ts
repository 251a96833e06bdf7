import { existsSync, readFileSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { runProcess, spawnProcess, type Child } from '../../src/child-process.js'
import { restartablePort } from '../support/ports.js'
import { eventually } from '../support/events.js'
import { copyArgs, envArgs, execForm, readDockerfile, type Stage } from './dockerfile.js'

/**
 * The production image's path without Docker (no engine on our machines): the Dockerfile's stages replayed in a
 * temporary directory, read from the Dockerfile itself so the check follows it. The dependencies stage runs as
 * written (`npm ci --omit=dev ...`, a quick install from npm's cache); the build stage's dist/ comes from the
 * development tree's compiler; the final stage's COPY, ENV, CMD and HEALTHCHECK are applied as the image applies
 * them. Then the service runs from there against a PostgreSQL and a broker started here, as configured servers.
 * A development-only import on the production path fails here: the install has no development dependency.
 */
const repo = fileURLToPath(new URL('../../', import.meta.url))
const fixture = join(repo, 'test/fixtures/model.json')
const order = JSON.parse(readFileSync(fixture, 'utf8')) as { order_uid: string }
/** Packages the lockfile marks as needed only for development (`dev`, or `devOptional` as TypeScript is). */
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> }
const developmentOnly = Object.entries(lock.packages)
  .filter(([path, entry]) => path.startsWith('node_modules/') && (entry.dev === true || entry.devOptional === true))
  .map(([path]) => path)

const INSTALL_MS = 240_000
const STEP_MS = 60_000

/**
 * The environment of the install's, the build's and the image's processes: this one's, without Node's options
 * (vitest's) and without the variables `npm test` sets for its scripts (npm_config_local_prefix would point the
 * install at this repository), but with npm's registry, cache and proxy settings.
 */
const kept = (name: string) =>
  !/^(NODE_|VITEST|TEST_)/.test(name) && (!/^npm_/i.test(name) || /^npm_config_(registry|cache|https?_proxy|noproxy)$/i.test(name))
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && kept(entry[0])),
)

let work: string
let app: string
let image: Image
let postgres: RunningPostgres | undefined
let broker: StanServer | undefined
let service: Child | undefined

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'order-service-production-'))
  // As root, the PostgreSQL started below runs as another OS user, which must reach its directory in here.
  await chmod(work, 0o755)
  image = await buildImage(readDockerfile(readFileSync(join(repo, 'Dockerfile'), 'utf8')), work)
  app = image.dir
}, INSTALL_MS)

afterAll(async () => {
  if (service !== undefined) await service.stop('SIGKILL', 5_000)
  await broker?.close()
  await postgres?.stop()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('the production install (the Dockerfile without Docker)', () => {
  it('When installed as the image installs it, then no development dependency is there, TypeScript neither', () => {
    // A development dependency that a production one needs too (yaml, for patch-package) is not development-only.
    const present = developmentOnly.filter((path) => existsSync(join(app, path)))
    expect(present).toEqual([])
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false)
    expect(existsSync(join(app, 'node_modules/postgres'))).toBe(true)
  })

  it(
    'When started against configured servers, then it serves a published order, its HEALTHCHECK passes on its HTTP_PORT, and SIGTERM stops it cleanly',
    async () => {
      postgres = await startEmbeddedPostgres({ dir: join(work, 'postgres'), port: await restartablePort() })
      broker = await startStanServer({ port: 0 })
      const port = await restartablePort()
      const env = {
        ...baseEnv,
        ...image.env,
        DATABASE_URL: postgres.url,
        STAN_URL: broker.url,
        STAN_CLUSTER_ID: broker.clusterId,
        // The image binds 0.0.0.0 for its container network; here loopback, on a port that is not the default.
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
      }
      service = spawnProcess(image.cmd[0]!, image.cmd.slice(1), { cwd: app, env })
      await service.line((line) => line.includes('order-service ready'), STEP_MS)

      // The sample order, through the image's own bin/publish (the compose file's publisher runs it).
      const published = await runProcess(['node', 'bin/publish', '--file', fixture], { cwd: app, env }, STEP_MS)
      expect(published.code, published.output).toBe(0)
      // The service is another process here: its answer over HTTP is the only sign that the order was stored.
      const served = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/order/${order.order_uid}`)
        return response.status === 200 ? ((await response.json()) as unknown) : undefined
      }, STEP_MS)
      expect(served).toEqual(order)

      const healthy = await runProcess(image.healthcheck, { cwd: app, env }, STEP_MS)
      expect(healthy.code, healthy.output).toBe(0)
      const elsewhere = await runProcess(image.healthcheck, { cwd: app, env: { ...env, HTTP_PORT: String(await restartablePort()) } }, STEP_MS)
      expect(elsewhere.code).not.toBe(0)

      const stopped = await service.stop('SIGTERM', 30_000)
      const printed = service.output()
      service = undefined
      expect(stopped, printed).toMatchObject({ code: 0, signal: null, forced: false })
    },
    3 * STEP_MS,
  )
})

interface Image {
  /** The final stage's working directory, as the container sees /app. */
  dir: string
  env: Record<string, string>
  cmd: string[]
  healthcheck: string[]
}

/**
 * Replays the stages the final one copies from, then the final one, each in a directory of its own standing for
 * its WORKDIR. The stage that runs `npm run build` is not replayed: its full `npm ci` is what the development tree
 * already is, so its dist/ is compiled from here.
 */
async function buildImage(stages: Stage[], root: string): Promise<Image> {
  const built = new Map<string, Promise<StageDir>>()
  const buildStage = async (name: string): Promise<StageDir> => {
    const stage = stages.find((candidate) => candidate.name === name)
    if (stage === undefined) throw new Error(`Dockerfile: no stage named ${name}`)
    const workdir = stage.instructions.findLast((instruction) => instruction.keyword === 'WORKDIR')?.args
    if (workdir === undefined) throw new Error(`Dockerfile: stage ${name} has no WORKDIR`)
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    if (stage.instructions.some((instruction) => instruction.keyword === 'RUN' && /\bnpm run build\b/.test(instruction.args))) {
      const tsc = ['node', join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')]
      const compiled = await runProcess(tsc, { cwd: repo, env: baseEnv }, INSTALL_MS)
      if (compiled.code !== 0) throw new Error(`the build failed:\n${compiled.output}`)
    } else {
      await replay(stage, dir, stageDir)
    }
    return { dir, workdir }
  }
  const stageDir = (name: string) => {
    if (!built.has(name)) built.set(name, buildStage(name))
    return built.get(name)!
  }
  const final = stages.at(-1)!
  // The stages the final one copies from, side by side (the install waits on the network, the build on the CPU).
  const sources = final.instructions.flatMap(({ keyword, args }) => (keyword === 'COPY' ? [copyArgs(args).from] : []))
  await Promise.all(sources.flatMap((from) => (from === undefined ? [] : [stageDir(from)])))
  const dir = join(root, 'app')
  await mkdir(dir)
  const image = await replay(final, dir, stageDir)
  if (image.cmd === undefined || image.healthcheck === undefined) throw new Error('Dockerfile: the final stage needs CMD and HEALTHCHECK')
  return { dir, env: image.env, cmd: image.cmd, healthcheck: image.healthcheck }
}

/** Where a stage was replayed, and the path it stands for. */
/** A path of the image relative to a stage's WORKDIR; this check copies nothing from elsewhere. */
function underWorkdir(workdir: string, path: string): string {
  const relative = posix.relative(workdir, posix.resolve(workdir, path))
  if (relative.startsWith('..')) throw new Error(`Dockerfile: ${path} is outside WORKDIR ${workdir}`)
  return relative
}

interface StageDir {
  dir: string
  workdir: string
}

async function replay(stage: Stage, dir: string, stageDir: (name: string) => Promise<StageDir>) {
  let workdir: string | undefined
  const env: Record<string, string> = {}
  let cmd: string[] | undefined
  let healthcheck: string[] | undefined
  const inside = (path: string) => {
    if (workdir === undefined) throw new Error('Dockerfile: a path before WORKDIR')
    return join(dir, underWorkdir(workdir, path))
  }
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'WORKDIR') workdir = args
    else if (keyword === 'ENV') Object.assign(env, envArgs(args))
    else if (keyword === 'CMD') cmd = execForm(args)
    else if (keyword === 'HEALTHCHECK') healthcheck = execForm(args)
    else if (keyword === 'COPY') {
      const { from, sources, dest } = copyArgs(args)
      for (const source of sources) {
        const stageFrom = from === undefined ? undefined : await stageDir(from)
        const origin = stageFrom === undefined ? join(repo, source) : join(stageFrom.dir, underWorkdir(stageFrom.workdir, source))
        const target = dest.endsWith('/') ? join(inside(dest), basename(source)) : inside(dest)
        await cp(origin, target, { recursive: true })
      }
    } else if (keyword === 'RUN') {
      const ran = await runProcess(['sh', '-c', args], { cwd: dir, env: { ...baseEnv, ...env } }, INSTALL_MS)
      if (ran.code !== 0) throw new Error(`Dockerfile: RUN ${args} failed:\n${ran.output}`)
    } else if (!['USER', 'EXPOSE', 'LABEL', 'ARG'].includes(keyword)) throw new Error(`Dockerfile: ${keyword} is not understood by this check`)
  }
  return { env, cmd, healthcheck }
}
