import { backoffDelay } from './backoff.js';
import type { DrainContext, DrainSender } from './drain-context.js';

/**
 * What the socket senders (syslog over TCP/TLS, syslog over UDP) share: the open/retry cycle
 * (a failed attempt or a lost connection counted in `failures` and `stats.retries`, the next
 * attempt after a jittered backoff, only while lines wait), the idle and unreachable answers,
 * rate-limited warnings, and close. A subclass opens its socket, pumps the queue into it, and
 * calls connected() / failed() as its socket comes up or goes away.
 */
export abstract class SocketSender implements DrainSender {
  /** the socket is open and takes lines */
  protected ready = false;
  protected closing = false;
  /** failed attempts (and lost connections) since the last success */
  protected failures = 0;
  private lastAttemptFailed = false;
  private lastWarnAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(protected readonly ctx: DrainContext) {}

  kick(): void {
    if (this.closing) return;
    if (this.ready) this.pump();
    else if (!this.opening() && !this.retryTimer) this.open();
  }

  idle(): boolean {
    return !this.ctx.queue.pending && this.inFlight() === 0;
  }

  unreachable(): boolean {
    return !this.ready && this.lastAttemptFailed;
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return this.closeSocket();
  }

  /** starts opening a socket (an attempt) */
  protected abstract open(): void;
  /** an attempt is under way (a socket is being opened, or is open) */
  protected abstract opening(): boolean;
  /** moves queued lines into the open socket */
  protected abstract pump(): void;
  /** lines handed to the socket whose outcome is not known yet */
  protected abstract inFlight(): number;
  /** ends the socket (close() stopped the retries already) */
  protected abstract closeSocket(): Promise<void>;

  /** The socket is open: failures forgotten; the failures before it, for a "reconnected" line. */
  protected connected(): number {
    const before = this.failures;
    this.ready = true;
    this.ctx.stats.connected = true;
    this.failures = 0;
    this.lastAttemptFailed = false;
    return before;
  }

  /** An attempt failed (`attemptFailed`) or an open socket went away (the subclass marks it gone): counted. */
  protected failed(attemptFailed: boolean): void {
    this.failures++;
    this.lastAttemptFailed = attemptFailed;
    this.ctx.stats.retries++;
  }

  /** Whether to warn now: at the first failure in a row, then at most once per `repeatMs`. */
  protected warnDue(repeatMs: number): boolean {
    const now = Date.now();
    if (this.failures !== 1 && now - this.lastWarnAt < repeatMs) return false;
    this.lastWarnAt = now;
    return true;
  }

  /** Opens again after the backoff of attempt `attempt` (default: the failures so far), if lines still wait then. */
  protected retryLater(attempt = this.failures): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing && this.ctx.queue.pending) this.open();
    }, backoffDelay(attempt, this.ctx.tuning.backoff));
  }
}
