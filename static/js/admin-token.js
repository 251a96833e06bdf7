// The admin token lives only in sessionStorage: it is gone when the tab closes.
// If storage is unavailable (privacy mode, sandboxed frame) it is kept in memory for this page only.
const KEY = 'order-service.admin-token';

/** @param {Storage | undefined} storage */
export function createTokenStore(storage) {
  let fallback = '';
  return {
    /** Storage first (a reload keeps the token); the memory copy when storage is missing, throws or refused the write. */
    get() {
      try {
        const stored = storage?.getItem(KEY);
        if (typeof stored === 'string') return stored;
      } catch {
        // Blocked storage: the memory copy below.
      }
      return fallback;
    },
    set(token) {
      fallback = token;
      try {
        storage?.setItem(KEY, token);
      } catch {
        // Memory fallback already holds it.
      }
    },
    clear() {
      fallback = '';
      try {
        storage?.removeItem(KEY);
      } catch {
        // Nothing stored to remove.
      }
    },
  };
}

/** sessionStorage itself can throw on access when storage is blocked. */
export function sessionStorageOrUndefined() {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}
