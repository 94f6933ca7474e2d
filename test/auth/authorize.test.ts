// authorizeTenant / authorizeAdmin over every combination of principal and request scope, plus a
// property over arbitrary strings.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AuthError,
  type AuthErrorCode,
  authorizeAdmin,
  authorizeTenant,
  type Principal,
} from "../../src/rpc/auth/index.js";

function token(orgId: string, projectId: string, roles: string[] = []): Principal {
  return { kind: "token", subject: "s", orgId, projectId, roles };
}

function outcome(fn: () => void): "ok" | AuthErrorCode {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    return err.code;
  }
}

const principals: [string, Principal][] = [
  ["anonymous", { kind: "anonymous" }],
  ["token a/p", token("a", "p")],
  ["admin a/p", token("a", "p", ["admin"])],
];
const orgs = ["", "a", "b"];
const projects = ["", "p", "q"];

describe("authorizeTenant", () => {
  // Every principal × org × project: 3 × 3 × 3 = 27 cases, each with its expected outcome.
  const cases = principals.flatMap(([name, principal]) =>
    orgs.flatMap((org) =>
      projects.map((project) => {
        const expected: "ok" | AuthErrorCode =
          org === "" || project === ""
            ? "INVALID_ARGUMENT"
            : principal.kind === "anonymous"
              ? "ok"
              : org === "a" && project === "p"
                ? "ok"
                : "PERMISSION_DENIED";
        return [name, principal, org, project, expected] as const;
      }),
    ),
  );
  it.each(cases)("%s on %j/%j → %s", (_name, principal, org, project, expected) => {
    expect(outcome(() => authorizeTenant(principal, org, project))).toBe(expected);
  });

  it("says which of org and project differs, and which is missing", () => {
    const p = token("org-a", "proj-a");
    expect(() => authorizeTenant(p, "org-b", "proj-a")).toThrow(
      'the token is scoped to org_id "org-a"; the request names org_id "org-b"',
    );
    expect(() => authorizeTenant(p, "org-a", "proj-b")).toThrow(
      'the token is scoped to project_id "proj-a" of org_id "org-a"; the request names project_id "proj-b"',
    );
    expect(() => authorizeTenant(p, "", "")).toThrow("org_id and project_id are required");
    expect(() => authorizeTenant(p, "", "x")).toThrow("org_id is required");
    expect(() => authorizeTenant(p, "x", "")).toThrow("project_id is required");
  });

  it("gives the same project name in another org no access (the pair is the scope)", () => {
    expect(outcome(() => authorizeTenant(token("a", "p"), "b", "p"))).toBe("PERMISSION_DENIED");
  });

  it("maps to gRPC statuses", () => {
    const codes = (["INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED"] as const).map(
      (c) => new AuthError(c, "x").grpcCode,
    );
    expect(codes).toEqual([3, 7, 16]);
  });

  it("property: a token passes exactly for its own non-empty org and project", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.string(),
        fc.boolean(),
        (tokOrg, tokProject, reqOrg, reqProject, same) => {
          const org = same ? tokOrg : reqOrg;
          const project = same ? tokProject : reqProject;
          const got = outcome(() => authorizeTenant(token(tokOrg, tokProject), org, project));
          const want =
            org === "" || project === ""
              ? "INVALID_ARGUMENT"
              : org === tokOrg && project === tokProject
                ? "ok"
                : "PERMISSION_DENIED";
          expect(got).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("authorizeAdmin", () => {
  it.each([
    ["anonymous (auth.mode = none)", { kind: "anonymous" } as Principal, "ok"],
    ["no roles", token("a", "p"), "PERMISSION_DENIED"],
    ["other roles", token("a", "p", ["viewer", "Admin", "administrator"]), "PERMISSION_DENIED"],
    ["admin", token("a", "p", ["admin"]), "ok"],
    ["admin among others", token("a", "p", ["viewer", "admin"]), "ok"],
  ] as const)("%s → %s", (_name, principal, expected) => {
    expect(outcome(() => authorizeAdmin(principal))).toBe(expected);
  });

  it("names the missing role and the subject", () => {
    expect(() => authorizeAdmin(token("a", "p"))).toThrow(
      'ClusterService requires a token with the "admin" role (subject "s")',
    );
  });

  it("admin does not widen the tenant scope", () => {
    expect(outcome(() => authorizeTenant(token("a", "p", ["admin"]), "b", "q"))).toBe(
      "PERMISSION_DENIED",
    );
  });
});
