// The service's HTTP routes (README.md#endpoints). Every call resolves to a value, never throws:
//   { ok: true, status, body }
//   { ok: false, status, code, message }   status 0 with code "unreachable" when no answer came,
//                                          code "aborted" when a newer request replaced this one.

/** @param {{ token: () => string }} options */
export function createApi({ token }) {
  async function request(path, { method = 'GET', signal, admin = false, json } = {}) {
    const headers = { Accept: 'application/json' };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const bearer = admin ? token() : '';
    if (bearer) headers.Authorization = `Bearer ${bearer}`;

    let response;
    try {
      const body = json === undefined ? undefined : JSON.stringify(json);
      response = await fetch(path, { method, headers, body, signal, credentials: 'same-origin' });
    } catch (error) {
      if (signal?.aborted) return { ok: false, status: 0, code: 'aborted', message: 'Replaced by a newer request.' };
      return { ok: false, status: 0, code: 'unreachable', message: errorMessage(error) };
    }

    let body;
    try {
      body = await response.json();
    } catch (error) {
      if (signal?.aborted) return { ok: false, status: 0, code: 'aborted', message: 'Replaced by a newer request.' };
      body = undefined;
    }

    if (response.ok) {
      if (body === undefined) {
        return { ok: false, status: response.status, code: 'bad_response', message: 'The server answered with something that is not JSON.' };
      }
      return { ok: true, status: response.status, body };
    }
    const error = body && typeof body === 'object' ? body.error : undefined;
    return {
      ok: false,
      status: response.status,
      code: typeof error?.code === 'string' ? error.code : `http_${response.status}`,
      message: typeof error?.message === 'string' ? error.message : response.statusText || `HTTP ${response.status}`,
    };
  }

  const query = (params) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : '';
  };

  return {
    getOrder: (id, signal) => request(`/order/${encodeURIComponent(id)}`, { signal }),
    listOrders: (before, limit = 20) => request(`/orders${query({ limit, before })}`, { admin: true }),
    listDeadLetters: (before, limit = 20) => request(`/dead-letters${query({ limit, before })}`, { admin: true }),
    getDeadLetter: (id) => request(`/dead-letters/${encodeURIComponent(id)}`, { admin: true }),
    replayDeadLetter: (id) => request(`/dead-letters/${encodeURIComponent(id)}/replay`, { method: 'POST', admin: true }),
    redriveDeadLetters: (selection) => request('/dead-letters/redrive', { method: 'POST', admin: true, json: selection }),
    getRedrive: (id) => request(`/dead-letters/redrive/${encodeURIComponent(id)}`, { admin: true }),
  };
}

function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}

/** One sentence a person can act on, for failures every view handles the same way. */
export function describeFailure(result) {
  if (result.code === 'unreachable') return 'Cannot reach the server. Check that it is running, then try again.';
  if (result.status === 403) return 'Forbidden: admin routes answer only local clients when no ADMIN_TOKEN is set.';
  if (result.status === 401) return 'The admin token is missing or was not accepted.';
  if (result.code === 'bad_response') return result.message;
  return `Server error (${result.status} ${result.code}): ${result.message}`;
}
