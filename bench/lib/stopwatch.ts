/** Milliseconds taken by `work`, from a monotonic clock. */
export async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await work()
  return performance.now() - start
}

/** Items per second, given how many were processed in `ms`. */
export const perSecond = (count: number, ms: number): number => (count * 1000) / ms
