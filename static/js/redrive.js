// Bulk re-drive from the dead-letter view (docs/operations.md): for a letter's reason, a dry run gives the
// count, the operator confirms that count, and the service works through the re-drive while this shows progress.
import { el, setStatus } from './dom.js';
import { describeFailure } from './api.js';
import { text } from './format.js';

const PROGRESS_EVERY_MS = 1000;

/**
 * @param {{
 *   api: ReturnType<typeof import('./api.js').createApi>,
 *   reason: string,
 *   onUnauthorized: () => void,
 * }} deps
 * @returns {HTMLElement}
 */
export function redriveControl({ api, reason, onUnauthorized }) {
  const start = el('button', { type: 'button', class: 'secondary', 'data-testid': 'redrive-button' }, `Re-drive all ${reason}`);
  const status = el('div', { class: 'redrive-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'redrive-status' });
  const box = el('div', { class: 'redrive' }, start, status);
  start.addEventListener('click', () => ask());

  function failed(answer) {
    start.disabled = false;
    if (answer.status === 401) onUnauthorized();
    setStatus(status, 'failed', describeFailure(answer));
  }

  async function ask() {
    start.disabled = true;
    setStatus(status, 'counting', 'Counting…');
    const answer = await api.redriveDeadLetters({ reason, dry_run: true });
    if (!answer.ok) return failed(answer);
    const dry = answer.body ?? {};
    const count = Number(dry.selected) || 0;
    if (count === 0) {
      start.disabled = false;
      setStatus(status, 'nothing', `No dead letters of reason ${reason} left to re-drive.`);
      return;
    }
    const confirm = el('button', { type: 'button', 'data-testid': 'redrive-confirm' }, `Re-drive ${count}`);
    const cancel = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'redrive-cancel' }, 'Cancel');
    confirm.addEventListener('click', () => run());
    cancel.addEventListener('click', () => {
      start.disabled = false;
      setStatus(status, 'idle');
    });
    setStatus(status, 'confirm',
      el('p', { 'data-testid': 'redrive-question' },
        `Re-drive ${count} dead letter${count === 1 ? '' : 's'} of reason ${reason}? `,
        `Now ${countsSentence(dry, 'would be')}.`),
      el('div', { class: 'actions' }, confirm, cancel));
    confirm.focus();
  }

  async function run() {
    setStatus(status, 'running', 'Starting…');
    const answer = await api.redriveDeadLetters({ reason });
    if (!answer.ok) return failed(answer);
    let redrive = answer.body?.redrive ?? {};
    while (redrive.finished !== true) {
      setStatus(status, 'running', `Re-drive #${text(redrive.id)}: ${text(redrive.done)} of ${text(redrive.total)} done…`);
      await new Promise((resolve) => setTimeout(resolve, PROGRESS_EVERY_MS));
      const next = await api.getRedrive(String(redrive.id));
      if (!next.ok) return failed(next);
      redrive = next.body?.redrive ?? {};
    }
    start.disabled = false;
    setStatus(status, 'finished', `Re-drive #${text(redrive.id)} finished: ${countsSentence(redrive, 'were')}.`);
  }

  return box;
}

/** "3 would be stored, 1 duplicate, 2 still rejected (schema 2)" */
function countsSentence(counts, verb) {
  const rejected = counts.rejected && typeof counts.rejected === 'object' ? Object.entries(counts.rejected) : [];
  const rejectedTotal = rejected.reduce((sum, [, n]) => sum + (Number(n) || 0), 0);
  const parts = [`${text(counts.stored)} ${verb} stored`, `${text(counts.duplicate)} duplicate`];
  if (rejectedTotal > 0) parts.push(`${rejectedTotal} still rejected (${rejected.map(([why, n]) => `${why} ${text(n)}`).join(', ')})`);
  if (Number(counts.truncated) > 0) parts.push(`${text(counts.truncated)} truncated`);
  return parts.join(', ');
}
