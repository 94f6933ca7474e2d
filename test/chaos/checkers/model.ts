// Plain-data inputs of the checkers (the harness builds them from replica reads / status RPCs).

export interface PortRecord {
  id: string;
  vpc_id: string;
  ip_address: string;
  mac_address?: string;
  /** "" or absent when detached. */
  vm_id?: string | null;
  subnet_id?: string;
}

export interface SnatRecord {
  vpc_id: string;
  external_ip: string;
}

export interface DnatRecord {
  id: string;
  vpc_id: string;
  external_ip: string;
  external_port: number;
  internal_ip: string;
  internal_port: number;
  /** Protocol enum number or name ("TCP", "PROTOCOL_TCP", 1 …). */
  protocol: string | number;
}

/** One replica's final state (read after healing and quiescence). */
export interface FinalState {
  ports: readonly PortRecord[];
  snats: readonly SnatRecord[];
  dnats: readonly DnatRecord[];
}

export interface ReplicaState {
  replica: string;
  state: FinalState;
}
