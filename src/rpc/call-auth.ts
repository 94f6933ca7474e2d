// Adapts the authenticator and the authorization rules (src/rpc/auth) to the services' CallAuth.
import type * as grpc from "@grpc/grpc-js";
import { AuthError, type Authenticator, authorizeAdmin, authorizeTenant } from "./auth/index.js";
import type { CallAuth } from "./network-service.js";
import { RpcError } from "./status.js";

function asRpcError(err: unknown): unknown {
  return err instanceof AuthError ? new RpcError(err.code, err.message) : err;
}

export function callAuth(authenticator: Authenticator): CallAuth {
  return {
    async caller(md: grpc.Metadata) {
      try {
        await authenticator.authenticate(md);
      } catch (err) {
        throw asRpcError(err);
      }
    },
    async tenant(md: grpc.Metadata, orgId: string, projectId: string) {
      try {
        authorizeTenant(await authenticator.authenticate(md), orgId, projectId);
      } catch (err) {
        throw asRpcError(err);
      }
    },
    async admin(md: grpc.Metadata) {
      try {
        authorizeAdmin(await authenticator.authenticate(md));
      } catch (err) {
        throw asRpcError(err);
      }
    },
  };
}
