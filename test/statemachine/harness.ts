// Test harness: a state machine fed with increasing log positions, plus tenant clients that
// fill in session and tenant fields.

import { expect } from "vitest";
import {
  type Command,
  type CommandValues,
  defaultNetworkConfig,
  encodeCommand,
  type NetworkConfig,
  NetworkStateMachine,
  type Result,
  type TenantCommand,
} from "../../src/statemachine/index.js";

export type TenantType = TenantCommand["type"];
export type Fields<T extends TenantType> = Omit<
  Extract<TenantCommand, { type: T }>,
  "type" | "client_id" | "request_id" | "org_id" | "project_id"
>;

export const testConfig: NetworkConfig = {
  ...defaultNetworkConfig,
  external_ip_pool: ["203.0.113.0/28", "198.51.100.10-198.51.100.12"],
};

export function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

export function mac(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

/** Codes observed by Client.fails, for the "every error code is tested" check. */
export const codesSeen = new Set<string>();

export class Harness {
  sm = new NetworkStateMachine();
  index = 0;
  term = 1;
  timeMs = 1_700_000_000_000;
  /** When true, every command goes through encodeCommand/decodeCommand. */
  viaBytes = true;

  apply<C extends Command>(command: C, stepMs = 10): Result<CommandValues[C["type"]]> {
    this.index++;
    this.timeMs += stepMs;
    const ctx = { index: this.index, term: this.term, timestampMs: this.timeMs };
    if (this.viaBytes) {
      return this.sm.apply(encodeCommand(command), ctx) as Result<CommandValues[C["type"]]>;
    }
    return this.sm.apply(command, ctx);
  }

  bootstrap(config: NetworkConfig = testConfig): this {
    const result = this.apply({ type: "Bootstrap", config });
    expect(result.ok).toBe(true);
    return this;
  }

  client(org: string, project: string, clientId = `client-${org}-${project}`): Client {
    const result = this.apply({ type: "RegisterClient", client_id: clientId });
    expect(result.ok).toBe(true);
    return new Client(this, org, project, clientId);
  }
}

export class Client {
  nextRequestId = 1;
  constructor(
    readonly harness: Harness,
    readonly org: string,
    readonly project: string,
    readonly clientId: string,
  ) {}

  get vpcId(): string {
    return `${this.org}/${this.project}`;
  }

  child(name: string): string {
    return `${this.org}/${this.project}/${name}`;
  }

  command<T extends TenantType>(
    type: T,
    fields: Fields<T>,
    requestId = this.nextRequestId++,
  ): Extract<TenantCommand, { type: T }> {
    return {
      type,
      client_id: this.clientId,
      request_id: requestId,
      org_id: this.org,
      project_id: this.project,
      ...fields,
    } as unknown as Extract<TenantCommand, { type: T }>;
  }

  send<T extends TenantType>(
    type: T,
    fields: Fields<T>,
    requestId?: number,
  ): Result<CommandValues[T]> {
    return this.harness.apply(this.command(type, fields, requestId)) as Result<CommandValues[T]>;
  }

  /** Send and expect success; returns the value. */
  ok<T extends TenantType>(type: T, fields: Fields<T>): CommandValues[T] {
    const result = this.send(type, fields);
    if (!result.ok) throw new Error(`${type} failed: ${result.code} ${result.message}`);
    return result.value;
  }

  /** Send and expect a rejection with this code; returns the message. */
  fails<T extends TenantType>(type: T, fields: Fields<T>, code: string): string {
    const before = this.harness.sm.resourceDigest();
    const result = this.send(type, fields);
    codesSeen.add(result.ok ? "ok" : result.code);
    // A rejected command changes no resource.
    expect(this.harness.sm.resourceDigest()).toBe(before);
    expect(
      result.ok ? "ok" : result.code,
      result.ok ? `${type} unexpectedly succeeded` : result.message,
    ).toBe(code);
    return result.ok ? "" : result.message;
  }

  scope() {
    return { org_id: this.org, project_id: this.project };
  }
}
