// What a caller may do, given who it is (authenticator.ts). Pure: no I/O, no clock.
//
// Tenant calls (NetworkService): the request's org_id and project_id must both be non-empty
// (INVALID_ARGUMENT) and equal the token's (PERMISSION_DENIED). There is no cross-tenant role:
// an admin token is scoped to its own org/project for tenant calls like any other.
// Cluster calls (ClusterService): the token must carry the "admin" role (PERMISSION_DENIED).
// The anonymous principal is produced only by auth.mode = none, where everything is allowed.
import type { Principal } from "./authenticator.js";
import { AuthError } from "./errors.js";

export const ADMIN_ROLE = "admin";

/** Throws AuthError unless `principal` may act on the tenant (orgId, projectId). */
export function authorizeTenant(principal: Principal, orgId: string, projectId: string): void {
  if (orgId === "" && projectId === "") {
    throw new AuthError("INVALID_ARGUMENT", "org_id and project_id are required");
  }
  if (orgId === "") throw new AuthError("INVALID_ARGUMENT", "org_id is required");
  if (projectId === "") throw new AuthError("INVALID_ARGUMENT", "project_id is required");
  switch (principal.kind) {
    case "anonymous":
      return;
    case "token":
      if (principal.orgId !== orgId) {
        throw new AuthError(
          "PERMISSION_DENIED",
          `the token is scoped to org_id ${JSON.stringify(principal.orgId)}; the request names ` +
            `org_id ${JSON.stringify(orgId)}`,
        );
      }
      if (principal.projectId !== projectId) {
        throw new AuthError(
          "PERMISSION_DENIED",
          `the token is scoped to project_id ${JSON.stringify(principal.projectId)} of org_id ` +
            `${JSON.stringify(orgId)}; the request names project_id ${JSON.stringify(projectId)}`,
        );
      }
      return;
    default:
      unreachable(principal);
  }
}

/** Throws AuthError unless `principal` may call ClusterService. */
export function authorizeAdmin(principal: Principal): void {
  switch (principal.kind) {
    case "anonymous":
      return;
    case "token":
      if (!principal.roles.includes(ADMIN_ROLE)) {
        throw new AuthError(
          "PERMISSION_DENIED",
          `ClusterService requires a token with the "${ADMIN_ROLE}" role` +
            (principal.subject === "" ? "" : ` (subject ${JSON.stringify(principal.subject)})`),
        );
      }
      return;
    default:
      unreachable(principal);
  }
}

function unreachable(principal: never): never {
  throw new AuthError(
    "UNAUTHENTICATED",
    `unknown principal kind ${JSON.stringify((principal as { kind?: unknown }).kind)}`,
  );
}
