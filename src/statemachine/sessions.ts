// Client sessions for exactly-once commands (Raft dissertation §6.3). A client registers a
// session (its own UUID) through the log; each mutating command carries (client_id,
// request_id); the first application's result is remembered and a retry of the same request id
// gets that result back instead of being applied again. Rejections are remembered too.
//
// Bounded: at most session_max sessions (registering another evicts the least recently active)
// and session_responses_max responses per session (the oldest applied is forgotten and the
// session's floor rises above its id: any request id below the floor that is not remembered is
// answered STALE_REQUEST, never re-applied). Expiry is by log time only — the leader-stamped
// timestamps — so every replica expires the same sessions at the same index. A command from an
// unknown (never registered, closed, evicted or expired) session is SESSION_EXPIRED: the client
// must register again and must not assume its in-flight requests were or were not applied.

import { assert } from "./assert.js";

export interface SessionLimits {
  readonly session_max: number;
  readonly session_responses_max: number;
  readonly session_timeout_ms: number;
}

interface Session<R> {
  readonly clientId: string;
  lastActiveMs: number;
  /** Every request id below the floor was applied already or will be refused. */
  floor: number;
  /** request id → result, in the order they were applied. */
  readonly responses: Map<number, R>;
}

export type SessionLookup<R> =
  | { readonly kind: "unknown" }
  | { readonly kind: "stale" }
  | { readonly kind: "duplicate"; readonly result: R }
  | { readonly kind: "new" };

/** [client_id, last_active_ms, floor, [request_id, result][]] */
export type SessionRecord<R> = [string, number, number, [number, R][]];

export class SessionTable<R> {
  /** Ordered by last activity, least recent first (a touch re-inserts at the end). */
  readonly #sessions = new Map<string, Session<R>>();

  get size(): number {
    return this.#sessions.size;
  }

  has(clientId: string): boolean {
    return this.#sessions.has(clientId);
  }

  /** Drop sessions idle for at least timeoutMs. Amortised O(1): only the expired are visited. */
  expire(nowMs: number, timeoutMs: number): void {
    for (const session of this.#sessions.values()) {
      if (session.lastActiveMs + timeoutMs > nowMs) break;
      this.#sessions.delete(session.clientId);
    }
  }

  #touch(session: Session<R>, nowMs: number): void {
    assert(nowMs >= session.lastActiveMs, "log time went backwards");
    session.lastActiveMs = nowMs;
    this.#sessions.delete(session.clientId);
    this.#sessions.set(session.clientId, session);
  }

  /** Open a session, or refresh an existing one (keeping its responses). */
  register(clientId: string, nowMs: number, limits: SessionLimits): void {
    const existing = this.#sessions.get(clientId);
    if (existing !== undefined) {
      this.#touch(existing, nowMs);
      return;
    }
    if (this.#sessions.size >= limits.session_max) {
      const oldest = this.#sessions.keys().next();
      assert(oldest.done !== true, "full table without sessions");
      this.#sessions.delete(oldest.value);
    }
    this.#sessions.set(clientId, { clientId, lastActiveMs: nowMs, floor: 0, responses: new Map() });
    assert(this.#sessions.size <= limits.session_max, "session table over its bound");
  }

  close(clientId: string): boolean {
    return this.#sessions.delete(clientId);
  }

  lookup(clientId: string, requestId: number, nowMs: number): SessionLookup<R> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return { kind: "unknown" };
    this.#touch(session, nowMs);
    const result = session.responses.get(requestId);
    if (result !== undefined) return { kind: "duplicate", result };
    if (requestId < session.floor) return { kind: "stale" };
    return { kind: "new" };
  }

  record(clientId: string, requestId: number, result: R, limits: SessionLimits): void {
    const session = this.#sessions.get(clientId);
    assert(session !== undefined, "recording a response for an unknown session");
    assert(
      !session.responses.has(requestId) && requestId >= session.floor,
      "request applied twice",
    );
    session.responses.set(requestId, result);
    if (session.responses.size > limits.session_responses_max) {
      const oldest = session.responses.keys().next();
      assert(oldest.done !== true, "empty responses over the bound");
      session.responses.delete(oldest.value);
      session.floor = Math.max(session.floor, oldest.value + 1);
    }
    assert(session.responses.size <= limits.session_responses_max, "responses over their bound");
  }

  records(): SessionRecord<R>[] {
    return [...this.#sessions.values()].map((s) => [
      s.clientId,
      s.lastActiveMs,
      s.floor,
      [...s.responses],
    ]);
  }

  static fromRecords<R>(records: readonly SessionRecord<R>[]): SessionTable<R> {
    const table = new SessionTable<R>();
    for (const [clientId, lastActiveMs, floor, responses] of records) {
      assert(!table.#sessions.has(clientId), "duplicate session in snapshot");
      table.#sessions.set(clientId, {
        clientId,
        lastActiveMs,
        floor,
        responses: new Map(responses),
      });
    }
    return table;
  }

  checkInvariants(limits: SessionLimits): void {
    assert(this.#sessions.size <= limits.session_max, "too many sessions");
    let previous = Number.NEGATIVE_INFINITY;
    for (const session of this.#sessions.values()) {
      assert(session.lastActiveMs >= previous, "sessions out of activity order");
      previous = session.lastActiveMs;
      assert(session.responses.size <= limits.session_responses_max, "too many responses");
      for (const requestId of session.responses.keys()) {
        assert(Number.isSafeInteger(requestId) && requestId >= 1, "bad request id");
      }
    }
  }
}
