import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent } from '../storage/records.ts';

// Prometheus metrics. Security outcomes are counted where they are audited, so
// the numbers and the audit log can never disagree.

export interface Metrics {
  registry: Registry;
  /** Counts an audited event under the metric it belongs to. */
  observe(event: Pick<AuditEvent, 'action' | 'result' | 'detail'>): void;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  /** Requests begun and not yet answered (or abandoned): a drain watches it reach zero. */
  inFlight: Gauge;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_process_' });
  const signIns = new Counter({ name: 'portcullis_sign_ins_total', help: 'Password sign-in attempts by outcome', labelNames: ['outcome'], registers: [registry] });
  const codes = new Counter({ name: 'portcullis_codes_total', help: 'Second-factor code checks by outcome and method', labelNames: ['outcome', 'method'], registers: [registry] });
  const locks = new Counter({ name: 'portcullis_locks_total', help: 'Locks set, by what was locked', labelNames: ['scope'], registers: [registry] });
  const resets = new Counter({ name: 'portcullis_mfa_resets_total', help: 'Reset MFA actions', registers: [registry] });
  const enrolments = new Counter({ name: 'portcullis_mfa_enrolments_total', help: 'Authenticators enrolled', registers: [registry] });
  const requestDuration = new Histogram({
    name: 'portcullis_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'portcullis_http_requests_in_flight', help: 'HTTP requests begun and not yet answered', registers: [registry] });
  return {
    registry,
    requestDuration,
    inFlight,
    observe({ action, result, detail }) {
      switch (action) {
        case 'sign_in.password':
        case 'sign_in.passkey':
          signIns.inc({ outcome: result });
          break;
        case 'mfa.verify':
          codes.inc({ outcome: result, method: String(detail?.method ?? (result === 'success' ? 'totp' : 'unknown')) });
          break;
        case 'sign_in.locked':
          locks.inc({ scope: String(detail?.scope ?? 'password') });
          break;
        case 'mfa.locked':
          locks.inc({ scope: 'totp' });
          break;
        case 'mfa.reset':
          resets.inc();
          break;
        case 'mfa.enroll':
          enrolments.inc();
          break;
      }
    },
  };
}
