/**
 * Where a replica listens, as the edge and the health checks reach it: on
 * one host 127.0.0.1 and the port Docker published; on many hosts the
 * node's address and a host-mode port.
 */
export interface Address {
  /** An IPv4 address or a DNS name. */
  host: string;
  port: number;
}

/** `host:port`, as HAProxy's `server` line and the runtime API's `addr … port …` take it. */
export function formatAddress(address: Address): string {
  return `${address.host}:${address.port}`;
}
