import { parseArgs, type ParseArgsConfig } from 'node:util'

type FlagOptions = NonNullable<ParseArgsConfig['options']>

const HELP = { help: { type: 'boolean', short: 'h' } } as const

/** The values of `options`, and --help, as parseArgs gives them. */
export type Flags<O extends FlagOptions> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: false }>>['values']

/**
 * A command's flags (bin/publish, bin/redrive): node:util's parseArgs, strict, no positionals, with -h/--help
 * added. An unknown flag or a missing value is a value too, in parseArgs's words, for the command's usage message.
 */
export function parseFlags<O extends FlagOptions>(args: string[], options: O): { ok: true; values: Flags<O> } | { ok: false; error: string } {
  try {
    return { ok: true, values: parseArgs({ args, options: { ...options, ...HELP }, strict: true, allowPositionals: false }).values as Flags<O> }
  } catch (error) {
    return { ok: false, error: (error as Error).message }
  }
}

/** Flags that take a value (`--name value`), read as text: the option entries for parseFlags. */
export function valueFlags<const N extends string>(...names: N[]): Record<N, { type: 'string' }> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<N, { type: 'string' }>
}
