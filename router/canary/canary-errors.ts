import { EdgeplaneError } from '../../shared/errors.js';

/** A canary list the board cannot take (E_CANARY_CONFIG); the config schema should catch it first. */
export class CanaryConfigError extends EdgeplaneError {
  constructor(message: string) {
    super('E_CANARY_CONFIG', message);
  }
}
