import type { OpenApiFilterDef } from '../config/filter-schema.js';
import type { BodyRead, Filter, FilterRequest, FilterVerdict } from './filter.js';
import { problemAnswer } from './problem-answer.js';
import { countRefusal, type FilterCount } from './filter-counters.js';
import { bodyMedia, checkJsonBody, checkParameters, type CompiledSpec } from './openapi/compiled-spec.js';

/** `max_body_bytes` when the definition gives none */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

type Media = Exclude<ReturnType<typeof bodyMedia>, null | 'unsupported'>;

/**
 * OpenAPI (`type: openapi`): every request must be an operation of the spec (else 404
 * `no_such_operation`) whose path parameters, query parameters and headers match their schemas
 * (else 400 `openapi_validation_failed`, the first problem in `detail`). With `validate_body`, a
 * JSON request body is checked too: the chain waits for the whole body, up to
 * `max_body_bytes`, before the dyno gets any of it, and the bytes read are the bytes the dyno
 * then receives (unchanged). A body over the cap is refused with 413 `openapi_body_too_large`
 * (it cannot be validated; a declared Content-Length over the cap is refused before reading).
 * Bodies of other media types, and operations without a request body, are not waited for.
 */
export class OpenApiFilter implements Filter {
  readonly type = 'openapi';
  private readonly validateBody: boolean;
  private readonly cap: number;

  constructor(readonly name: string, def: OpenApiFilterDef, private readonly spec: CompiledSpec, private readonly count: FilterCount) {
    this.validateBody = def.validate_body === true;
    this.cap = def.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  apply(req: FilterRequest): FilterVerdict | Promise<FilterVerdict> {
    const m = this.spec.match(req.method, req.path);
    if (typeof m === 'string') {
      countRefusal(this.count, 'no_such_operation');
      return problemAnswer('no_such_operation', m === 'no_path' ? 'the API description has no such path'
        : `the API description has no ${req.method} operation for this path`);
    }
    const problem = checkParameters(m.op, m.pathParams, req);
    if (problem !== null) return this.invalid(problem);
    const body = m.op.body;
    if (!this.validateBody || body === null) return this.pass();
    const length = req.header('content-length');
    const hasBody = (length !== '' && length !== '0') || req.header('transfer-encoding') !== '';
    if (!hasBody) return body.required ? this.invalid('request body is required') : this.pass();
    const contentType = req.header('content-type');
    const media = bodyMedia(m.op, contentType);
    if (media === 'unsupported') {
      return this.invalid(`content type ${contentType === '' ? '(none)' : `"${contentType.slice(0, 100)}"`} is not one of ${body.media.map((x) => x.type).join(', ')}`);
    }
    if (media === null || !media.json || media.validate === null) return this.pass();
    if (length !== '' && Number(length) > this.cap) return this.tooLarge();
    const read = req.readBody(this.cap);
    return read instanceof Promise ? read.then((bytes) => this.judge(media, bytes)) : this.judge(media, read);
  }

  private judge(media: Media, bytes: BodyRead): FilterVerdict {
    if (bytes === 'too_large') return this.tooLarge();
    // the client left: nothing is answered anyway
    if (bytes === 'gone') return this.invalid('request body incomplete');
    const problem = checkJsonBody(media, bytes);
    return problem === null ? this.pass() : this.invalid(problem);
  }

  private pass(): undefined {
    this.count.passed++;
    return undefined;
  }

  private invalid(detail: string): FilterVerdict {
    countRefusal(this.count, 'openapi_validation_failed');
    return problemAnswer('openapi_validation_failed', detail);
  }

  private tooLarge(): FilterVerdict {
    countRefusal(this.count, 'openapi_body_too_large');
    return problemAnswer('openapi_body_too_large', `request body larger than ${this.cap} bytes cannot be validated`);
  }
}
