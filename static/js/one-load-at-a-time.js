// A list loads one page at a time, so two answers never interleave in it. A load asked for while one runs
// (Refresh clicked during a load, a token entered meanwhile) is not dropped: it runs when the current one
// ends; of several asked for meanwhile, the last one runs.

/**
 * @template T
 * @param {(arg: T) => Promise<void>} run
 * @returns {(arg: T) => Promise<void>} resolves when this load, or the one that replaced it, has run
 */
export function oneLoadAtATime(run) {
  /** @type {Promise<void> | null} */
  let running = null;
  /** @type {{ arg: T } | null} */
  let waiting = null;

  async function drain() {
    while (waiting) {
      const next = waiting;
      waiting = null;
      await run(next.arg);
    }
    running = null;
  }

  return (arg) => {
    waiting = { arg };
    running ??= drain();
    return running;
  };
}
