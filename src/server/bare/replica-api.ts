// The replica's own small gRPC API (JSON bodies), used by the bare Raft cluster, its tests and the
// Raft benchmark: propose, linearizable or stale read of the digest, status, leadership transfer,
// compaction. Writes sent to a follower fail with FAILED_PRECONDITION and name the leader in
// trailing metadata, so that a client can follow it.
import * as grpc from "@grpc/grpc-js";

export interface ProposeRequest {
  /** base64 payload */
  data: string;
}
export interface ProposeResponse {
  index: number;
  term: number;
  count: number;
}
export interface ReadRequest {
  consistency: "linearizable" | "stale";
}
export interface ReadResponse {
  appliedIndex: number;
  count: number;
  digest: string;
}
export interface TransferRequest {
  target: string;
}
export type Empty = Record<string, never>;

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString("utf8")) as unknown,
};

function unary<Req, Res>(name: string): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/novanet.replica.v1.Replica/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize as (b: Buffer) => Req,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize as (b: Buffer) => Res,
  };
}

export const replicaService = {
  propose: unary<ProposeRequest, ProposeResponse>("Propose"),
  read: unary<ReadRequest, ReadResponse>("Read"),
  status: unary<Empty, Record<string, unknown>>("Status"),
  transferLeadership: unary<TransferRequest, Empty>("TransferLeadership"),
  compact: unary<Empty, { index: number }>("Compact"),
} satisfies grpc.ServiceDefinition;

export const LEADER_ID_METADATA = "x-novanet-leader-id";
export const LEADER_ADDRESS_METADATA = "x-novanet-leader-api";

export const ReplicaClient = grpc.makeGenericClientConstructor(replicaService, "Replica");
