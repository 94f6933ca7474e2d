// ovn.adopt_cluster_ids: the ids of clusters whose OVN rows a restored cluster takes over.
import { describe, expect, it } from "vitest";
import { load, MINIMAL, problemsOf } from "./helpers.js";

describe("ovn.adopt_cluster_ids", () => {
  it("defaults to none and takes a list from the file, env or flags", () => {
    expect(load({ file: MINIMAL }).config.ovn.adopt_cluster_ids).toEqual([]);
    expect(
      load({ file: `${MINIMAL}\n[ovn]\nadopt_cluster_ids = ["old-a", "old-b"]\n` }).config.ovn
        .adopt_cluster_ids,
    ).toEqual(["old-a", "old-b"]);
    expect(
      load({ file: MINIMAL, env: { NOVANET_OVN_ADOPT_CLUSTER_IDS: "old-a" } }).config.ovn
        .adopt_cluster_ids,
    ).toEqual(["old-a"]);
    expect(
      load({ file: MINIMAL, argv: ["--ovn.adopt_cluster_ids=old-a,old-b"] }).config.ovn
        .adopt_cluster_ids,
    ).toEqual(["old-a", "old-b"]);
  });

  it("refuses the cluster's own id and invalid ids", () => {
    const own = problemsOf({ file: MINIMAL, argv: ["--ovn.adopt_cluster_ids=novanet"] });
    expect(own.map((p) => [p.key, p.message])).toEqual([
      ["ovn.adopt_cluster_ids", expect.stringContaining(`"novanet" is this cluster's own id`)],
    ]);
    const bad = problemsOf({ file: MINIMAL, argv: ["--ovn.adopt_cluster_ids=a b"] });
    expect(bad.map((p) => p.key)).toEqual(["ovn.adopt_cluster_ids"]);
    expect(bad[0]?.message).toMatch(/not a valid id/);
  });
});
