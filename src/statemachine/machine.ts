// NetworkStateMachine: the deterministic state the Raft log drives.
//
//   apply(entry bytes | command, { index, term, timestampMs }) → result
//
// Pure and total: no clock, randomness or I/O; the leader-stamped timestamp is the only time.
// A rejection is a result with a code and changes no resource (handlers check everything before
// their first write; the session table still records the rejection so that a retry gets it
// back). An exception means a programmer error (a failed assertion): the replica must crash and
// recover from snapshot + log.

import { assert, assertNever, assertSafeInteger } from "./assert.js";
import { decodeCommand, parseCommand } from "./codec.js";
import type {
  BootstrapCommand,
  Command,
  CommandValue,
  CommandValues,
  SessionlessCommand,
  TenantCommand,
} from "./commands.js";
import { resolveConfig } from "./config.js";
import { err, ok, type Result } from "./errors.js";
import { type Exec, isErr } from "./handlers/common.js";
import { createDnat, createSnat, deleteDnat, deleteSnat } from "./handlers/nat.js";
import { attachPort, createPort, deletePort, detachPort, updatePort } from "./handlers/port.js";
import {
  addSecurityRule,
  createSecurityGroup,
  deleteSecurityGroup,
  removeSecurityRule,
  updateSecurityGroup,
} from "./handlers/security-group.js";
import { createSubnet, deleteSubnet, updateSubnet } from "./handlers/subnet.js";
import { createVpc, deleteVpc } from "./handlers/vpc.js";
import { checkStateInvariants } from "./invariants.js";
import { formatIp, parseIpv4 } from "./ip.js";
import { Queries } from "./queries.js";
import {
  decodeSnapshot,
  encodeBody,
  encodeResourceBody,
  encodeSnapshot,
  sha256Hex,
} from "./snapshot.js";
import { State } from "./state.js";
import {
  type DnatConfig,
  deepFreeze,
  type Port,
  type SecurityGroup,
  type SnatConfig,
  type Subnet,
  type Vpc,
} from "./types.js";
import { isClientId, isTenantId } from "./validate.js";

/** Where an entry sits in the log and when the leader stamped it. */
export interface ApplyContext {
  readonly index: number;
  readonly term: number;
  /** Leader wall clock in ms, stamped when proposing; replicas never read their own clock. */
  readonly timestampMs: number;
}

export type CommandResult = Result<CommandValue>;

function executeTenantCommand(x: Exec, c: TenantCommand): Result<CommandValue> {
  switch (c.type) {
    case "CreateVpc":
      return createVpc(x, c);
    case "DeleteVpc":
      return deleteVpc(x, c);
    case "CreateSubnet":
      return createSubnet(x, c);
    case "UpdateSubnet":
      return updateSubnet(x, c);
    case "DeleteSubnet":
      return deleteSubnet(x, c);
    case "CreatePort":
      return createPort(x, c);
    case "UpdatePort":
      return updatePort(x, c);
    case "DeletePort":
      return deletePort(x, c);
    case "AttachPort":
      return attachPort(x, c);
    case "DetachPort":
      return detachPort(x, c);
    case "CreateSecurityGroup":
      return createSecurityGroup(x, c);
    case "UpdateSecurityGroup":
      return updateSecurityGroup(x, c);
    case "AddSecurityRule":
      return addSecurityRule(x, c);
    case "RemoveSecurityRule":
      return removeSecurityRule(x, c);
    case "DeleteSecurityGroup":
      return deleteSecurityGroup(x, c);
    case "CreateSnat":
      return createSnat(x, c);
    case "DeleteSnat":
      return deleteSnat(x, c);
    case "CreateDnat":
      return createDnat(x, c);
    case "DeleteDnat":
      return deleteDnat(x, c);
    default:
      return assertNever(c, "unknown tenant command");
  }
}

interface Memo {
  readonly index: number;
  readonly value: string;
}

export class NetworkStateMachine {
  #state: State;
  readonly #queries: Queries;
  readonly #digests: { digest?: Memo; resource?: Memo } = {};

  constructor() {
    this.#state = new State();
    this.#queries = new Queries(() => this.#state);
  }

  apply(command: Uint8Array, ctx: ApplyContext): CommandResult;
  apply<C extends Command>(command: C, ctx: ApplyContext): Result<CommandValues[C["type"]]>;
  apply(input: Uint8Array | Command, ctx: ApplyContext): CommandResult {
    const state = this.#state;
    assertSafeInteger(ctx.index, "index");
    assertSafeInteger(ctx.term, "term");
    assertSafeInteger(ctx.timestampMs, "timestampMs");
    assert(
      ctx.index > state.appliedIndex,
      `index ${ctx.index} applied after ${state.appliedIndex}`,
    );
    assert(ctx.term >= state.appliedTerm, `term ${ctx.term} after ${state.appliedTerm}`);
    assert(ctx.timestampMs >= 0, "negative timestamp");
    state.appliedIndex = ctx.index;
    state.appliedTerm = ctx.term;
    state.logTimeMs = Math.max(state.logTimeMs, ctx.timestampMs);
    if (state.config !== null)
      state.sessions.expire(state.logTimeMs, state.config.raw.session_timeout_ms);
    const parsed = input instanceof Uint8Array ? decodeCommand(input) : parseCommand(input);
    if (!parsed.ok) return parsed;
    const command = parsed.value;
    switch (command.type) {
      case "Bootstrap":
      case "RegisterClient":
      case "CloseSession":
        return this.#applySessionless(command);
      default:
        return this.#applyTenant(command);
    }
  }

  #bootstrap(c: BootstrapCommand): CommandResult {
    const config = resolveConfig(c.config);
    if (!config.ok) return config;
    const current = this.#state.config;
    if (current === null) {
      this.#state.installConfig(config.value);
      return ok(config.value.raw);
    }
    const same = JSON.stringify(current.raw) === JSON.stringify(config.value.raw);
    return same
      ? ok(current.raw)
      : err("FAILED_PRECONDITION", "already bootstrapped with another config");
  }

  #applySessionless(c: SessionlessCommand): CommandResult {
    const state = this.#state;
    switch (c.type) {
      case "Bootstrap":
        return this.#bootstrap(c);
      case "RegisterClient":
        if (state.config === null) return err("NOT_BOOTSTRAPPED", "bootstrap the cluster first");
        if (!isClientId(c.client_id)) return err("INVALID_ARGUMENT", "client_id is invalid");
        state.sessions.register(c.client_id, state.logTimeMs, state.config.raw);
        return ok(deepFreeze({ client_id: c.client_id }));
      case "CloseSession":
        if (state.config === null) return err("NOT_BOOTSTRAPPED", "bootstrap the cluster first");
        state.sessions.close(c.client_id);
        return ok({});
      default:
        return assertNever(c, "unknown session command");
    }
  }

  #applyTenant(c: TenantCommand): CommandResult {
    const state = this.#state;
    const config = state.config;
    if (config === null) return err("NOT_BOOTSTRAPPED", "bootstrap the cluster first");
    if (c.request_id < 1) return err("INVALID_ARGUMENT", "request_id must be ≥ 1");
    const session = state.sessions.lookup(c.client_id, c.request_id, state.logTimeMs);
    switch (session.kind) {
      case "unknown":
        return err("SESSION_EXPIRED", `no session for client ${c.client_id}: register again`);
      case "stale":
        return err(
          "STALE_REQUEST",
          `request ${c.request_id} is older than the remembered responses`,
        );
      case "duplicate":
        return session.result as CommandResult;
      case "new":
        break;
      default:
        return assertNever(session, "unknown session lookup");
    }
    let result: CommandResult;
    if (!isTenantId(c.org_id) || !isTenantId(c.project_id)) {
      result = err("INVALID_ARGUMENT", "org_id and project_id must be valid tenant ids");
    } else {
      result = executeTenantCommand({ state, config, nowMs: state.logTimeMs }, c);
    }
    result = deepFreeze(result);
    state.sessions.record(c.client_id, c.request_id, result, config.raw);
    return result;
  }

  // --- Position, snapshot, digest ------------------------------------------------------------

  get appliedIndex(): number {
    return this.#state.appliedIndex;
  }

  get appliedTerm(): number {
    return this.#state.appliedTerm;
  }

  /** Monotonic log time (max of the leader timestamps applied so far), ms. */
  get logTimeMs(): number {
    return this.#state.logTimeMs;
  }

  get bootstrapped(): boolean {
    return this.#state.config !== null;
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.#state);
  }

  /** Throws SnapshotError on a corrupt, foreign or inconsistent snapshot. */
  static restore(bytes: Uint8Array): NetworkStateMachine {
    const machine = new NetworkStateMachine();
    machine.#state = decodeSnapshot(bytes);
    return machine;
  }

  /** sha256 (hex) of the whole replicated state, sessions and applied position included. */
  digest(): string {
    return this.#memo("digest", () => sha256Hex(encodeBody(this.#state)));
  }

  /**
   * sha256 (hex) of the resources and IPAM/pool cursors only (no sessions, no applied position):
   * equal before and after any rejected command.
   */
  resourceDigest(): string {
    return this.#memo("resource", () => sha256Hex(encodeResourceBody(this.#state)));
  }

  /**
   * Digests are O(state) (seconds at 1M ports) and polled by GetStatus; every change to the state
   * goes through apply, which advances appliedIndex, so a digest is reused until the next entry.
   */
  #memo(kind: "digest" | "resource", compute: () => string): string {
    const cached = this.#digests[kind];
    if (cached !== undefined && cached.index === this.#state.appliedIndex) return cached.value;
    const value = compute();
    this.#digests[kind] = { index: this.#state.appliedIndex, value };
    return value;
  }

  /** Full O(state) consistency check; throws AssertionError. */
  checkInvariants(): void {
    checkStateInvariants(this.#state);
  }

  // --- Reads ---------------------------------------------------------------------------------

  get queries(): Queries {
    return this.#queries;
  }

  /** Addresses IPAM holds in a subnet (any tenant; for audits and tests), ascending. */
  /** Whether a port of the VPC already uses this MAC (as stored: lowercase, colon-separated). */
  macInUse(vpcId: string, mac: string): boolean {
    return this.#state.vpcs.get(vpcId)?.macs.has(mac) ?? false;
  }

  allocatedIps(subnetId: string): string[] {
    const entry = this.#state.subnets.get(subnetId);
    if (entry === undefined) return [];
    const offsets = [...entry.ipam.allocatedOffsets()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return offsets.map((offset) => formatIp(entry.cidr.family, entry.cidr.first + offset));
  }

  /** External IPs in use and the VPC owning each, in address order. */
  *externalIps(): Generator<{ readonly external_ip: string; readonly vpc_id: string }> {
    const owners = [...this.#state.externalOwners].map(
      ([ip, vpcId]) => [parseIpv4(ip)!, ip, vpcId] as const,
    );
    owners.sort((a, b) => a[0] - b[0]);
    for (const [, external_ip, vpc_id] of owners) yield { external_ip, vpc_id };
  }

  // Iteration over everything, for the OVN reconciler. Insertion (= log) order, same on every
  // replica; values are frozen.
  /** Resource counts for metrics; O(1). Every port holds exactly one allocated IP. */
  stats(): { vpcs: number; subnets: number; ports: number; ip_allocations: number } {
    const st = this.#state;
    return {
      vpcs: st.vpcs.size,
      subnets: st.subnets.size,
      ports: st.ports.size,
      ip_allocations: st.ports.size,
    };
  }

  *vpcs(): Generator<Vpc> {
    for (const entry of this.#state.vpcs.values()) yield entry.vpc;
  }

  *subnets(): Generator<Subnet> {
    for (const entry of this.#state.subnets.values()) yield entry.subnet;
  }

  *ports(): Generator<Port> {
    for (const entry of this.#state.ports.values()) yield entry.port;
  }

  *securityGroups(): Generator<SecurityGroup> {
    for (const entry of this.#state.securityGroups.values()) yield entry.group;
  }

  *snats(): Generator<SnatConfig> {
    for (const entry of this.#state.vpcs.values()) if (entry.snat !== null) yield entry.snat;
  }

  *dnats(): Generator<DnatConfig> {
    yield* this.#state.dnats.values();
  }
}

export { isErr };
