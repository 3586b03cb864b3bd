// The ACME certificates panel: what /api/state's `acme.certificates` says of each
// certificate [acme] manages — its names, when it expires, and why its last order failed.
// Certificates not issued yet are listed too (no expiry, often an error): they are the
// ones an operator needs to see. Hidden when trafik runs without [acme].
import { h, icon, parseTime, relTime } from './util.js';

// Expiring within this many days is shown as a warning (renewal starts at 30 days left).
const WARN_DAYS = 30;

export class AcmeView {
  constructor() {
    this.panel = document.getElementById('acme-panel');
    this.body = document.querySelector('#acme-certificates tbody');
    this.count = document.getElementById('acme-count');
  }

  /** `state` is /api/state's JSON (or null when it could not be read). */
  update(state) {
    const certs = Array.isArray(state?.acme?.certificates) ? state.acme.certificates : null;
    this.panel.hidden = !certs;
    if (!certs) return;
    this.count.textContent = String(certs.length);
    this.count.dataset.count = String(certs.length);
    this.body.replaceChildren(...certs.map((c) => row(c)));
  }
}

function row(cert) {
  const domains = Array.isArray(cert.domains) ? cert.domains.map(String) : [];
  const notAfter = parseTime(cert.notAfter);
  const error = typeof cert.lastError === 'string' && cert.lastError ? cert.lastError : null;
  const daysLeft = notAfter ? (notAfter.getTime() - Date.now()) / 86400e3 : null;
  const status = !notAfter ? (error ? ['bad', 'alert', 'Failing'] : ['warn', 'refresh', 'Pending'])
    : daysLeft <= 0 ? ['bad', 'alert', 'Expired']
    : daysLeft <= WARN_DAYS ? ['warn', 'refresh', 'Renewing']
    : ['ok', 'check', 'Valid'];
  return h('tr', { dataset: { acmeCert: domains[0] ?? '' } },
    h('td', { 'data-field': 'domains' },
      domains.map((d, i) => h('code', { class: i ? 'acme-san' : 'acme-main' }, d))),
    h('td', { 'data-field': 'status' },
      h('span', { class: ['badge', status[0]] }, icon(status[1]), status[2])),
    h('td', { 'data-field': 'notAfter', dataset: { value: cert.notAfter ?? '' } },
      notAfter ? [notAfter.toISOString().replace(/\.\d+Z$/, 'Z'), ' ', h('span', { class: 'muted' }, '(', relTime(notAfter, cert.notAfter), ')')]
        : h('span', { class: 'muted' }, 'not issued yet')),
    h('td', { 'data-field': 'lastError' },
      error ? h('div', { class: 'alert-code' }, error) : h('span', { class: 'muted' }, '—')));
}
