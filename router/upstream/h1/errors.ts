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

/** The TCP connection to the dyno took longer than the connect timeout. */
export class ConnectTimeoutError extends UpstreamClientError {
  override readonly name = 'ConnectTimeoutError';
  constructor(message = 'Connect Timeout Error') {
    super(message, 'UND_ERR_CONNECT_TIMEOUT');
  }
}

/** No complete response head within headersTimeout. */
export class HeadersTimeoutError extends UpstreamClientError {
  override readonly name = 'HeadersTimeoutError';
  constructor(message = 'Headers Timeout Error') {
    super(message, 'UND_ERR_HEADERS_TIMEOUT');
  }
}

/** The response body stalled (no byte from the dyno while the client was ready) for bodyTimeout. */
export class BodyTimeoutError extends UpstreamClientError {
  override readonly name = 'BodyTimeoutError';
  constructor(message = 'Body Timeout Error') {
    super(message, 'UND_ERR_BODY_TIMEOUT');
  }
}

/** The dyno closed the connection before the response was complete. */
export class SocketError extends UpstreamClientError {
  override readonly name = 'SocketError';
  constructor(message = 'other side closed') {
    super(message, 'UND_ERR_SOCKET');
  }
}

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

/** The request was aborted (abort() without an error of its own). */
export class RequestAbortedError extends UpstreamClientError {
  override readonly name = 'AbortError';
  constructor(message = 'Request aborted') {
    super(message, 'UND_ERR_ABORTED');
  }
}

/** The request cannot be written as given (a header value with CR/LF, a forbidden header...). */
export class InvalidArgumentError extends UpstreamClientError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string) {
    super(message, 'UND_ERR_INVALID_ARG');
  }
}

/** The request body had more or fewer bytes than its Content-Length. */
export class RequestContentLengthMismatchError extends UpstreamClientError {
  override readonly name = 'RequestContentLengthMismatchError';
  constructor(message = 'Request body length does not match content-length header') {
    super(message, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  }
}

/** Dispatch on a pool that is closing or closed. */
export class ClientClosedError extends UpstreamClientError {
  override readonly name = 'ClientClosedError';
  constructor(message = 'The client is closed') {
    super(message, 'UND_ERR_CLOSED');
  }
}

/** The pool was destroyed with the request still queued or in flight. */
export class ClientDestroyedError extends UpstreamClientError {
  override readonly name = 'ClientDestroyedError';
  constructor(message = 'The client is destroyed') {
    super(message, 'UND_ERR_DESTROYED');
  }
}
