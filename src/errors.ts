/** The closed set of error codes a client can rely on (docs/api.md). */
export const errorStatus = {
  VALIDATION_ERROR: 400,
  AUTH_REQUIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  OPERATION_IN_PROGRESS: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_BACKUP: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  DATABASE_BLOCKED: 503,
  SHUTTING_DOWN: 503,
  STORE_UNAVAILABLE: 503,
  INSUFFICIENT_STORAGE: 507,
} as const;

export type ErrorCode = keyof typeof errorStatus;
export type ErrorDetails = Record<string, unknown>;

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  get status(): number {
    return errorStatus[this.code];
  }

  toBody(): { error: ErrorCode; message: string; details?: ErrorDetails } {
    return this.details
      ? { error: this.code, message: this.message, details: this.details }
      : { error: this.code, message: this.message };
  }
}

export class ValidationError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("VALIDATION_ERROR", message, details);
  }
}

export class AuthRequiredError extends ServiceError {
  constructor(message = "authentication required") {
    super("AUTH_REQUIRED", message);
  }
}

export class ForbiddenError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("FORBIDDEN", message, details);
  }
}

export class NotFoundError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("NOT_FOUND", message, details);
  }
}

export class OperationInProgressError extends ServiceError {
  constructor(message: string, details?: ErrorDetails, options?: ErrorOptions) {
    super("OPERATION_IN_PROGRESS", message, details, options);
  }
}

export class ConflictError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("CONFLICT", message, details);
  }
}

export class InvalidBackupError extends ServiceError {
  constructor(message: string, details?: ErrorDetails, options?: ErrorOptions) {
    super("INVALID_BACKUP", message, details, options);
  }
}

export class RateLimitedError extends ServiceError {
  constructor(readonly retryAfterSeconds: number) {
    super("RATE_LIMITED", "too many attempts, try again later", { retry_after: retryAfterSeconds });
  }
}

export class InsufficientStorageError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("INSUFFICIENT_STORAGE", message, details);
  }
}

export class DatabaseBlockedError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("DATABASE_BLOCKED", message, details);
  }
}

export class PayloadTooLargeError extends ServiceError {
  constructor(message: string) {
    super("PAYLOAD_TOO_LARGE", message);
  }
}

/** The server is stopping (SIGTERM): work it cut short left nothing behind; retry once it is back. */
export class ShuttingDownError extends ServiceError {
  constructor(message = "the server is shutting down; nothing was changed, retry once it is back") {
    super("SHUTTING_DOWN", message);
  }
}

/** The off-site object store did not answer, or refused the request; never the client's fault, never a 500. */
export class StoreUnavailableError extends ServiceError {
  constructor(message: string, details?: ErrorDetails) {
    super("STORE_UNAVAILABLE", message, details);
  }
}
