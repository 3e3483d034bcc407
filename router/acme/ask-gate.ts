import { AcmeAskError } from './acme-errors.js';

/** How long an answer of the ask URL holds for a name (DESIGN.md: asked at most once a minute per name). */
export const ASK_TTL_MS = 60000;
const ASK_TIMEOUT_MS = 5000;
/** names remembered at most (the oldest answers are forgotten first) */
const MAX_NAMES = 10000;

export type AskAnswer = 'yes' | 'no' | 'error';

/**
 * The on-demand gate: `GET <ask>?domain=<name>`, 2xx approves the name; any other status, a
 * network error or a timeout (5 s) refuses it. Each name is asked at most once a minute: the
 * answer (and a question in flight) is shared by every handshake for that name meanwhile.
 */
export class AskGate {
  private readonly answers = new Map<string, { at: number; answer: Promise<AskAnswer> }>();

  constructor(private readonly url: string, private readonly onError: (err: AcmeAskError) => void, private readonly now: () => number = Date.now) {}

  /** 'yes' when the ask URL approves `name` (asked now, or within the last minute). */
  ask(name: string): Promise<AskAnswer> {
    const now = this.now();
    const held = this.answers.get(name);
    if (held !== undefined && now - held.at < ASK_TTL_MS) return held.answer;
    if (held !== undefined) this.answers.delete(name);
    const answer = this.fetch(name);
    this.answers.set(name, { at: now, answer });
    while (this.answers.size > MAX_NAMES) this.answers.delete(this.answers.keys().next().value!);
    return answer;
  }

  private async fetch(name: string): Promise<AskAnswer> {
    const u = new URL(this.url);
    u.searchParams.set('domain', name);
    try {
      const res = await fetch(u, { signal: AbortSignal.timeout(ASK_TIMEOUT_MS), redirect: 'manual' });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 300 ? 'yes' : 'no';
    } catch (err) {
      this.onError(new AcmeAskError(name, (err as Error).message));
      return 'error';
    }
  }
}
