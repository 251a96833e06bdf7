/**
 * Settles as `promise` does, or, when it has not settled within `ms`, as `onTimeout()` does: its value, or the error
 * it throws. The timer never outlives the wait. The one bounded wait of the project: every wait on the network
 * (and every test's wait on a process) goes through it or through a client's own timeout.
 */
export function withTimeout<T, U = never>(promise: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout())
      } catch (error) {
        reject(error)
      }
    }, ms)
  })
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer))
}
