// The lookup form and its result area. Each lookup first wipes the previous order, and only the
// newest request may draw: an older answer arriving late is dropped.
import { clear, setStatus } from './dom.js';
import { isValidOrderId } from './order-id.js';
import { describeFailure } from './api.js';
import { renderOrder } from './order-view.js';

/**
 * @param {{
 *   form: HTMLFormElement, input: HTMLInputElement, status: HTMLElement, result: HTMLElement,
 *   api: ReturnType<typeof import('./api.js').createApi>,
 *   onShown: (id: string | null, mode: 'push' | 'none') => void,
 * }} deps onShown keeps the URL in step with what is on screen.
 */
export function createLookup({ form, input, status, result, api, onShown }) {
  let controller = null;
  let shownId = null;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    lookUp(input.value.trim(), 'push');
  });

  /**
   * @param {string} id
   * @param {'push' | 'none'} mode push: a person asked, so record it in history; none: the URL already says it.
   */
  async function lookUp(id, mode) {
    controller?.abort();
    controller = null;
    input.value = id;
    clear(result);
    result.removeAttribute('aria-busy');
    input.removeAttribute('aria-invalid');

    if (id === '') {
      shownId = null;
      onShown(null, mode);
      markInvalid();
      setStatus(status, 'invalid', 'Enter an order id.');
      return;
    }
    shownId = id;
    onShown(id, mode);
    if (!isValidOrderId(id)) {
      markInvalid();
      setStatus(status, 'invalid', ...invalidMessage(id));
      return;
    }

    const current = new AbortController();
    controller = current;
    result.setAttribute('aria-busy', 'true');
    setStatus(status, 'loading', 'Looking up ', quoted(id), '…');

    const answer = await api.getOrder(id, current.signal);
    if (current !== controller) return;
    controller = null;
    result.removeAttribute('aria-busy');

    if (answer.ok) {
      if (!answer.body || typeof answer.body !== 'object' || Array.isArray(answer.body)) {
        setStatus(status, 'error', 'The server answered with something that is not an order.');
        return;
      }
      result.append(renderOrder(answer.body));
      setStatus(status, 'found', 'Order ', quoted(id), ' found.');
      return;
    }
    if (answer.code === 'aborted') return;
    if (answer.status === 404) {
      setStatus(status, 'not-found', 'No order with id ', quoted(id), '.');
    } else if (answer.status === 400) {
      markInvalid();
      setStatus(status, 'invalid', ...invalidMessage(id));
    } else {
      setStatus(status, 'error', describeFailure(answer));
    }
  }

  /** Back to the empty page (e.g. the browser went back to "/"). */
  function reset() {
    controller?.abort();
    controller = null;
    shownId = null;
    input.value = '';
    input.removeAttribute('aria-invalid');
    result.removeAttribute('aria-busy');
    clear(result);
    setStatus(status, 'idle');
  }

  function markInvalid() {
    input.setAttribute('aria-invalid', 'true');
  }

  return {
    lookUp,
    reset,
    /** The id currently on screen (or being fetched), so the view tab can link back to it. */
    shownId: () => shownId,
  };
}

function invalidMessage(id) {
  return [quoted(id), ' is not a valid order id: use 1 to 64 letters, digits, “_” or “-”.'];
}

/** Quotes shown as text; a long id is kept whole so the person sees exactly what was asked. */
function quoted(id) {
  return `“${id}”`;
}
