import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { CertificateSpec } from '../front/tls-names.js';

/** What the main thread sends every worker (and what a new worker starts with). */
export interface AcmeWorkerUpdate {
  /** the issued certificates to serve (absolute paths), after the config's own */
  readonly certificates?: readonly CertificateSpec[];
  /** http-01: token -> key authorization, for the orders running now */
  readonly challenges?: Readonly<Record<string, string>>;
  /** report unknown SNI names (the config has `acme.on_demand`) */
  readonly onDemand?: boolean;
}

/** one report per unknown name per minute per worker */
const REPORT_EVERY_MS = 60000;
const MAX_REPORTED = 10000;
export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * A worker's ACME state: the issued certificates its HTTPS listener serves beside the config's
 * (the config's win for their names: they come first), the http-01 answers, and which unknown
 * SNI names it has reported to the main thread lately.
 */
export class AcmeWorkerState {
  certificates: readonly CertificateSpec[] = [];
  private challenges = new Map<string, string>();
  private onDemand = false;
  private readonly reported = new Map<string, number>();

  constructor(start?: AcmeWorkerUpdate) {
    if (start) this.update(start);
  }

  /** Applies an update; true when the certificates changed. */
  update(u: AcmeWorkerUpdate): boolean {
    if (u.challenges !== undefined) this.challenges = new Map(Object.entries(u.challenges));
    if (u.onDemand !== undefined) this.onDemand = u.onDemand;
    if (u.certificates === undefined) return false;
    this.certificates = u.certificates;
    return true;
  }

  /** The config's certificates followed by the issued ones. */
  merged(config: readonly CertificateSpec[]): CertificateSpec[] {
    return [...config, ...this.certificates];
  }

  /** True when an unknown SNI name should be reported now (on demand on, not reported in the last minute). */
  shouldReport(name: string, now = Date.now()): boolean {
    if (!this.onDemand) return false;
    const last = this.reported.get(name);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return false;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.set(name, now);
    return true;
  }

  /**
   * Registers the http-01 route on the HTTP listener's app, before the front's own: a known
   * token is answered with its key authorization for any host; anything else goes to `front`
   * (a site may serve its own /.well-known/ paths).
   */
  attachChallenges(app: TemplatedApp, front: (res: HttpResponse, req: HttpRequest) => void): void {
    app.get(`${CHALLENGE_PREFIX}:token`, (res, req) => {
      const answer = this.challenges.size === 0 ? undefined : this.challenges.get(req.getParameter(0) ?? '');
      if (answer === undefined) {
        front(res, req);
        return;
      }
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('content-type', 'text/plain').end(answer);
      });
    });
  }
}
