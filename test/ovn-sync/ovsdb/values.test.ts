import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseColumnType } from "../../../src/ovn-sync/ovsdb/schema.js";
import {
  applyDiff,
  decodeMap,
  decodeSet,
  decodeValue,
  defaultValue,
  namedUuid,
  ovsMap,
  ovsOptional,
  ovsSet,
  uuid,
  uuidSet,
} from "../../../src/ovn-sync/ovsdb/values.js";

const U1 = "11111111-1111-1111-1111-111111111111";
const U2 = "22222222-2222-2222-2222-222222222222";
const stringSet = parseColumnType({ key: "string", min: 0, max: "unlimited" });
const uuidSetType = parseColumnType({
  key: { type: "uuid", refTable: "X" },
  min: 0,
  max: "unlimited",
});
const optionalInt = parseColumnType({ key: "integer", min: 0, max: 1 });
const stringMap = parseColumnType({ key: "string", value: "string", min: 0, max: "unlimited" });
const scalarString = parseColumnType("string");
const scalarInt = parseColumnType({ key: { type: "integer", minInteger: 0 } });

describe("OVSDB value encoding", () => {
  it("builds wire values", () => {
    expect(uuid(U1)).toEqual(["uuid", U1]);
    expect(namedUuid("ls1")).toEqual(["named-uuid", "ls1"]);
    expect(ovsSet(["a", "b"])).toEqual(["set", ["a", "b"]]);
    expect(uuidSet([U1])).toEqual(["set", [["uuid", U1]]]);
    expect(ovsMap({ k: "v" })).toEqual(["map", [["k", "v"]]]);
    expect(ovsMap([["k", 1]])).toEqual(["map", [["k", 1]]]);
    expect(ovsOptional(undefined)).toEqual(["set", []]);
    expect(ovsOptional(5)).toBe(5);
  });

  it("decodes sets, including a one-element set sent as a bare atom", () => {
    expect(decodeSet(["set", []])).toEqual([]);
    expect(decodeSet(["set", ["a", "b"]])).toEqual(["a", "b"]);
    expect(decodeSet("a")).toEqual(["a"]);
    expect(decodeSet(["uuid", U1])).toEqual([U1]);
    expect(decodeValue(["uuid", U1], uuidSetType)).toEqual([U1]);
    expect(
      decodeValue(
        [
          "set",
          [
            ["uuid", U1],
            ["uuid", U2],
          ],
        ],
        uuidSetType,
      ),
    ).toEqual([U1, U2]);
    expect(decodeValue(7, optionalInt)).toEqual([7]);
    expect(decodeValue(["set", []], optionalInt)).toEqual([]);
  });

  it("decodes maps and scalars", () => {
    expect(
      decodeMap([
        "map",
        [
          ["a", "1"],
          ["b", "2"],
        ],
      ]),
    ).toEqual({ a: "1", b: "2" });
    expect(decodeValue(["map", []], stringMap)).toEqual({});
    expect(decodeValue("x", scalarString)).toBe("x");
    expect(decodeValue(["set", ["x"]], scalarString)).toBe("x");
    expect(() => decodeMap("x")).toThrow();
    expect(() => decodeSet({})).toThrow();
  });

  it("gives column defaults", () => {
    expect(defaultValue(stringSet)).toEqual([]);
    expect(defaultValue(optionalInt)).toEqual([]);
    expect(defaultValue(stringMap)).toEqual({});
    expect(defaultValue(scalarString)).toBe("");
    expect(defaultValue(scalarInt)).toBe(0);
    expect(defaultValue(parseColumnType("boolean"))).toBe(false);
  });
});

describe("update2 modify diff semantics", () => {
  it("sets: the diff is the symmetric difference, elements are toggled", () => {
    expect(applyDiff(["A"], ["set", ["A", "B"]], stringSet)).toEqual(["B"]);
    expect(applyDiff(["A", "B"], "C", stringSet)).toEqual(["A", "B", "C"]);
    expect(applyDiff(["A", "B"], "A", stringSet)).toEqual(["B"]);
    expect(applyDiff([U1], ["uuid", U1], uuidSetType)).toEqual([]);
  });

  it("optional columns (min 0, max 1) carry the new value, as ovsdb-server sends it", () => {
    expect(applyDiff([], 5, optionalInt)).toEqual([5]);
    expect(applyDiff([5], 6, optionalInt)).toEqual([6]);
    expect(applyDiff([5], ["set", []], optionalInt)).toEqual([]);
  });

  it("maps: new keys added, same-value keys removed, changed keys replaced", () => {
    const old = { a: "1", b: "2", c: "3" };
    const diff = [
      "map",
      [
        ["a", "1"],
        ["b", "20"],
        ["d", "4"],
      ],
    ];
    expect(applyDiff(old, diff, stringMap)).toEqual({ b: "20", c: "3", d: "4" });
  });

  it("scalars: the diff is the new value", () => {
    expect(applyDiff("old", "new", scalarString)).toBe("new");
    expect(applyDiff(1, 2, scalarInt)).toBe(2);
  });

  it("applying the server-side diff of (old, new) to old gives new (property)", () => {
    const elem = fc.constantFrom("a", "b", "c", "d", "e");
    fc.assert(
      fc.property(fc.uniqueArray(elem), fc.uniqueArray(elem), (oldS, newS) => {
        const diff = [
          ...oldS.filter((x) => !newS.includes(x)),
          ...newS.filter((x) => !oldS.includes(x)),
        ];
        const got = applyDiff(oldS, ["set", diff], stringSet) as string[];
        expect([...got].sort()).toEqual([...newS].sort());
      }),
    );
    const m = fc.dictionary(elem, fc.constantFrom("1", "2", "3"));
    fc.assert(
      fc.property(m, m, (oldM, newM) => {
        // ovsdb_datum_diff: keys only in old (old value), keys only in new, changed keys (new value).
        const diff: [string, string][] = [];
        for (const [k, v] of Object.entries(oldM)) if (!(k in newM)) diff.push([k, v]);
        for (const [k, v] of Object.entries(newM)) if (oldM[k] !== v) diff.push([k, v]);
        expect(applyDiff(oldM, ["map", diff], stringMap)).toEqual(newM);
      }),
    );
  });
});
