/** Thrown when an invariant breaks: a programmer error. The shell crashes the replica on it. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Assertions stay on in production: a replica that continues past a broken invariant diverges. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}

export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
