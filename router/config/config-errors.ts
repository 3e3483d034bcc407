import { EdgeplaneError } from '../../shared/errors.js';

/** `If-Match` named another revision than the running one (412): nothing was changed. */
export class PreconditionFailedError extends EdgeplaneError {
  readonly problems: readonly string[];
  constructor(readonly expected: string, readonly running: number) {
    super('E_PRECONDITION', `If-Match ${expected} does not match the running revision "${running}"`);
    this.problems = Object.freeze([this.message]);
  }
}

/** A rollback named a revision the history no longer holds (404). */
export class RevisionNotHeldError extends EdgeplaneError {
  readonly problems: readonly string[];
  constructor(readonly revision: number, held: readonly number[]) {
    super('E_NO_REVISION', `revision ${revision} is not held (held: ${held.length === 0 ? 'none' : held.join(', ')})`);
    this.problems = Object.freeze([this.message]);
  }
}
