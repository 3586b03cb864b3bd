// Small DOM and formatting helpers shared by the dashboard views.
// Everything user-supplied goes through textContent / setAttribute, never innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
      else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv); }
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('div', {class: 'x', dataset: {a: 1}}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Same as h() but in the SVG namespace. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Inline icon from the sprite in index.html. */
export function icon(name, cls = '') {
  const svg = s('svg', { class: ['icon', cls], 'aria-hidden': 'true', focusable: 'false' });
  svg.append(s('use', { href: `#i-${name}` }));
  return svg;
}

export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const entries = (o) => (isObj(o) ? Object.entries(o) : []);

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
export const byName = (a, b) => collator.compare(a[0], b[0]);

export function fmtInt(n) {
  return Number.isFinite(n) ? String(Math.round(n)) : '—';
}

export function fmtRate(r) {
  if (!Number.isFinite(r)) return '—';
  if (r === 0) return '0';
  if (r < 10) return r.toFixed(2);
  if (r < 100) return r.toFixed(1);
  return String(Math.round(r));
}

/** Seconds → "850 µs" / "12.3 ms" / "1.20 s". */
export function fmtDuration(sec) {
  if (!Number.isFinite(sec)) return '—';
  if (sec === 0) return '0 ms';
  const us = sec * 1e6;
  if (us < 1000) return `${us < 10 ? us.toFixed(1) : Math.round(us)} µs`;
  const ms = sec * 1000;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${sec < 10 ? sec.toFixed(2) : sec.toFixed(1)} s`;
}

/** Seconds → "3d 4h", "2h 5m", "4m 10s", "12s". */
export function fmtUptime(sec) {
  if (!Number.isFinite(sec) || sec < 0) return '—';
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60), ss = Math.floor(sec % 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${ss}s`;
  return `${ss}s`;
}

/** Parse RFC3339 (with any number of fractional digits) or return null. */
export function parseTime(v) {
  if (typeof v !== 'string' || !v) return null;
  const norm = v.replace(/(\.\d{3})\d+/, '$1');
  const t = Date.parse(norm);
  return Number.isNaN(t) ? null : new Date(t);
}

const rtf = typeof Intl.RelativeTimeFormat === 'function' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

export function fmtRelative(date, now = Date.now()) {
  if (!date) return '';
  const diff = (date.getTime() - now) / 1000;
  const a = Math.abs(diff);
  if (a < 5) return 'just now';
  if (!rtf) return date.toLocaleString();
  if (a < 60) return rtf.format(Math.round(diff), 'second');
  if (a < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

export function fmtClock(date) {
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** Element showing a relative time that app.js refreshes every few seconds. */
export function relTime(date, raw) {
  return h('time', { datetime: date ? date.toISOString() : raw, title: date ? date.toLocaleString() : raw, 'data-reltime': date ? date.getTime() : null },
    date ? fmtRelative(date) : raw);
}

export function refreshRelTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-reltime]')) {
    const txt = fmtRelative(new Date(Number(el.dataset.reltime)), now);
    if (el.textContent !== txt) el.textContent = txt;
  }
}

/** Status code → "2xx" … "5xx" class name used for colours. */
export function codeClass(code) {
  const n = Number(code);
  if (n >= 500) return 's5';
  if (n >= 400) return 's4';
  if (n >= 300) return 's3';
  if (n >= 200) return 's2';
  return 's1';
}

/** Highlight matcher names ("Host:", "PathPrefix:") in a v1 rule while keeping textContent verbatim. */
export function ruleCode(rule) {
  const code = h('code', { class: 'rule', 'data-field': 'rule' });
  const text = String(rule ?? '');
  const re = /(^|;)(\s*)([A-Za-z]+)(:)/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    const start = m.index + m[1].length + m[2].length;
    if (start > last) code.append(text.slice(last, start));
    code.append(h('span', { class: 'matcher' }, m[3]), m[4]);
    last = start + m[3].length + 1;
  }
  if (last < text.length) code.append(text.slice(last));
  return code;
}
