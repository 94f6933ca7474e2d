// withDeadline: an operation whose deadline has already passed is never started, so nothing is
// left to reject unobserved (an unhandled rejection ends a replica; found at 1M ports when a
// linearizable read retried past its deadline while no leader was known).
import { describe, expect, it } from "vitest";
import { withDeadline } from "../../src/rpc/proposer.js";
import { RpcError } from "../../src/rpc/status.js";

describe("withDeadline", () => {
  it("does not start an operation after the deadline", async () => {
    let started = 0;
    const late = withDeadline(() => {
      started++;
      return Promise.reject(new Error("no known leader"));
    }, Date.now() - 1);
    await expect(late).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(started).toBe(0);
  });

  it("gives up at the deadline and still observes the operation's later rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const slow = withDeadline(
        () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), 60)),
        Date.now() + 20,
      );
      await expect(slow).rejects.toBeInstanceOf(RpcError);
      await new Promise((r) => setTimeout(r, 100)); // the operation rejects meanwhile
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("passes the operation's result through", async () => {
    await expect(withDeadline(() => Promise.resolve(7), Date.now() + 1000)).resolves.toBe(7);
  });
});
