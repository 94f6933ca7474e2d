// Assertions detect programmer errors and stay on in production (TigerStyle). An expected
// rejection of a command is never an assertion: it is a result with a code (see errors.ts).
// A failed assertion throws, the replica crashes, and it recovers from its snapshot plus log.

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** The default branch of every exhaustive switch. */
export function assertNever(value: never, message = "unexpected value"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}

export function assertSafeInteger(value: number, name: string): void {
  assert(Number.isSafeInteger(value), `${name} must be a safe integer, got ${value}`);
}
