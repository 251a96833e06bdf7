/** How much each scenario publishes and breaks: `--quick` for CI, the full run for the README. */
export interface Sizes {
  /** Valid orders and hostile messages in a scenario's main mix. */
  valid: number
  hostile: number
  /** Publishing pace while faults are injected, messages per second, so faults land during ingest. */
  rate: number
  /** SIGKILLs of the service in the crash scenario. */
  kills: number
  /** Gate fuzz: property runs in-process, and mutated messages sent through the service. */
  fuzzRuns: number
  fuzzPublished: number
  /** HTTP abuse: concurrent connections and seconds of load. */
  httpClients: number
  httpSeconds: number
}

export const QUICK: Sizes = { valid: 2_000, hostile: 200, rate: 1_500, kills: 4, fuzzRuns: 2_000, fuzzPublished: 400, httpClients: 200, httpSeconds: 3 }

export const FULL: Sizes = { valid: 20_000, hostile: 2_000, rate: 3_000, kills: 10, fuzzRuns: 20_000, fuzzPublished: 3_000, httpClients: 200, httpSeconds: 10 }
