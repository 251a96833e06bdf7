// Turns order and dead-letter values into display text. Every function returns a string or a Node
// built from text, so a hostile value can only ever show up as characters.
import { el } from './dom.js';

const MISSING = '—';

/** Any value as text; objects (not expected in the model) are shown as JSON rather than "[object Object]". */
export function text(value) {
  if (value === null || value === undefined || value === '') return MISSING;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Money stays in the model's units: 1817 with "USD" is shown as "1817 USD", never divided. */
export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === '') return MISSING;
  const code = typeof currency === 'string' ? currency.trim() : '';
  return code ? `${text(amount)} ${code}` : text(amount);
}

export function percent(value) {
  if (value === null || value === undefined || value === '') return MISSING;
  return `${text(value)}%`;
}

/** A <time> showing the local date and time, with the exact instant in datetime and title. */
export function timeElement(date, raw, testid) {
  if (!date) return el('span', { 'data-testid': testid }, text(raw));
  const local = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const iso = date.toISOString();
  return el('time', { datetime: iso, title: iso, 'data-testid': testid }, local);
}

/** @returns {Date | null} */
export function fromIso(value) {
  if (typeof value !== 'string' || value === '') return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** payment_dt is unix seconds. @returns {Date | null} */
export function fromUnixSeconds(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function bytes(size) {
  if (typeof size !== 'number' || !Number.isFinite(size)) return text(size);
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB (${size} B)`;
  return `${(size / (1024 * 1024)).toFixed(1)} MiB (${size} B)`;
}
