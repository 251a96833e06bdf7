/** One instruction of a Dockerfile: its keyword (upper case) and the rest of its (joined) lines. */
export interface Instruction {
  keyword: string
  args: string
}

export interface Stage {
  /** The `AS` name, if any. */
  name: string | undefined
  image: string
  instructions: Instruction[]
}

/**
 * The stages of a Dockerfile, as far as the production-install check needs them: comments dropped, continued
 * lines joined, each instruction split into keyword and arguments. Not a general parser (no heredocs, no
 * escape directive, no variable expansion): the check fails loudly on what it does not understand.
 */
export function readDockerfile(text: string): Stage[] {
  const stages: Stage[] = []
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
  for (const line of logical) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line)
    if (match === null) continue
    const keyword = match[1]!.toUpperCase()
    const args = match[2]!.trim()
    if (keyword === 'FROM') {
      const [image, as, name] = args.split(/\s+/)
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
      continue
    }
    const stage = stages.at(-1)
    if (stage === undefined) throw new Error(`Dockerfile: ${keyword} before FROM`)
    stage.instructions.push({ keyword, args })
  }
  return stages
}

/** COPY's flags (`--from=build`) and its sources and destination. */
export function copyArgs(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.split(/\s+/)
  const flags = words.filter((word) => word.startsWith('--'))
  const paths = words.filter((word) => !word.startsWith('--'))
  const unknown = flags.filter((flag) => !flag.startsWith('--from='))
  if (unknown.length > 0 || paths.length < 2) throw new Error(`Dockerfile: COPY ${args}: not understood by this check`)
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length)
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! }
}

/** ENV's `NAME=value` pairs (values without spaces or quotes, as in ours). */
export function envArgs(args: string): Record<string, string> {
  return Object.fromEntries(
    args.split(/\s+/).map((pair) => {
      const at = pair.indexOf('=')
      if (at <= 0 || /["']/.test(pair)) throw new Error(`Dockerfile: ENV ${args}: not understood by this check`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}

/** The exec form of CMD, or of HEALTHCHECK's command after its options. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['))
  const command = JSON.parse(json) as unknown
  if (!Array.isArray(command) || !command.every((word) => typeof word === 'string')) throw new Error(`Dockerfile: ${args}: not an exec form`)
  return command
}
