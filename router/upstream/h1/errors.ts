/**
 * Errors of the lean HTTP/1.1 upstream client. Each carries the `code` string undici uses for
 * the same failure, so that router/upstream/upstream-errors.ts classifies both clients alike:
 * HPE_* -> H17, UND_ERR_CONNECT_TIMEOUT -> H19, UND_ERR_HEADERS_TIMEOUT -> H12,
 * UND_ERR_BODY_TIMEOUT -> H15, UND_ERR_INVALID_ARG / UND_ERR_REQ_CONTENT_LENGTH_MISMATCH ->
 * refused request (400), anything else -> H13. Socket errors from node (ECONNREFUSED, ECONNRESET,
 * ...) are passed on as they are.
 */
export class UpstreamClientError extends Error {
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** One of the client's error classes: undici's name and code for the failure, its message by default. */
function clientError(name: string, code: string, defaultMessage: string) {
  return class extends UpstreamClientError {
    override readonly name = name;
    constructor(message = defaultMessage) {
      super(message, code);
    }
  };
}

/** The TCP connection to the dyno took longer than the connect timeout. */
export const ConnectTimeoutError = clientError('ConnectTimeoutError', 'UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error');

/** No complete response head within headersTimeout. */
export const HeadersTimeoutError = clientError('HeadersTimeoutError', 'UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error');

/** The response body stalled (no byte from the dyno while the client was ready) for bodyTimeout. */
export const BodyTimeoutError = clientError('BodyTimeoutError', 'UND_ERR_BODY_TIMEOUT', 'Body Timeout Error');

/** The dyno closed the connection before the response was complete. */
export const SocketError = clientError('SocketError', 'UND_ERR_SOCKET', 'other side closed');

/** The request was aborted (abort() without an error of its own). */
export const RequestAbortedError = clientError('AbortError', 'UND_ERR_ABORTED', 'Request aborted');

/** The request cannot be written as given (a header value with CR/LF, a forbidden header...). */
export const InvalidArgumentError = clientError('InvalidArgumentError', 'UND_ERR_INVALID_ARG', 'Invalid argument');

/** The request body had more or fewer bytes than its Content-Length. */
export const RequestContentLengthMismatchError = clientError('RequestContentLengthMismatchError', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'Request body length does not match content-length header');

/** Dispatch on a pool that is closing or closed. */
export const ClientClosedError = clientError('ClientClosedError', 'UND_ERR_CLOSED', 'The client is closed');

/** The pool was destroyed with the request still queued or in flight. */
export const ClientDestroyedError = clientError('ClientDestroyedError', 'UND_ERR_DESTROYED', 'The client is destroyed');

/**
 * A malformed response: named and coded like llhttp's errors in undici (`HTTPParserError`,
 * `HPE_*`), which the classifier maps to H17.
 */
export class ResponseParseError extends UpstreamClientError {
  override readonly name = 'HTTPParserError';
  constructor(code: ParseErrorCode, message: string) {
    super(message, code);
  }
}

/** The llhttp codes this parser reports. */
export type ParseErrorCode =
  | 'HPE_INVALID_CONSTANT'
  | 'HPE_INVALID_VERSION'
  | 'HPE_INVALID_STATUS'
  | 'HPE_INVALID_HEADER_TOKEN'
  | 'HPE_CR_EXPECTED'
  | 'HPE_LF_EXPECTED'
  | 'HPE_HEADER_OVERFLOW'
  | 'HPE_INVALID_CONTENT_LENGTH'
  | 'HPE_UNEXPECTED_CONTENT_LENGTH'
  | 'HPE_INVALID_TRANSFER_ENCODING'
  | 'HPE_INVALID_CHUNK_SIZE'
  | 'HPE_STRICT'
  | 'HPE_PAUSED_UPGRADE';
