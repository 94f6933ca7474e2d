// Errors of authentication and authorization. The message is the human text only; the RPC layer
// prefixes the code ("PERMISSION_DENIED: …") and sets it in trailing metadata (src/rpc/status.ts).
import { status } from "@grpc/grpc-js";

export type AuthErrorCode = "UNAUTHENTICATED" | "PERMISSION_DENIED" | "INVALID_ARGUMENT";

const grpcStatusOfAuth: Readonly<Record<AuthErrorCode, status>> = {
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
};

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The gRPC status code this error is reported with. */
  get grpcCode(): status {
    return grpcStatusOfAuth[this.code];
  }
}

/** A problem in the auth or TLS settings, found when they are loaded (start-up, JWKS reload). */
export class AuthConfigError extends Error {
  override name = "AuthConfigError";
}
