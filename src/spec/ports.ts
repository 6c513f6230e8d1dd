// Compose's `ports:` in all its forms, and which of a service's ports the
// edge routes. Skiff never publishes a port on the host for a user: the edge
// routes HTTP to one container port per service, and every other port is
// reachable by `SERVICE:PORT` on the app network, as in Compose. So only the
// container side of a mapping matters; the host side is read and checked, not
// used.

import type { Parsed } from "./forms.js";

/** One container port a `ports:` entry names. */
export interface PublishedPort {
  /** The container port. */
  target: number;
  protocol: "tcp" | "udp" | "sctp";
  /** The host port as written (`8080`, `8000-8002`); absent when Compose would pick one. Not used by Skiff. */
  published?: string;
}

const PROTOCOLS = new Set(["tcp", "udp", "sctp"]);
// A range may not be silly: Compose expands it into one mapping per port.
const MAX_RANGE = 1000;

function portRange(text: string): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || to < from || to - from > MAX_RANGE) return undefined;
  return [from, to];
}

/**
 * Parses the short form: `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`,
 * with ranges on either side and IPv6 host addresses in brackets.
 */
export function parsePortShort(entry: string | number): Parsed<PublishedPort[]> {
  const text = String(entry).trim();
  const bad: Parsed<PublishedPort[]> = {
    ok: false,
    message: `must be a port mapping like "8080:80", "127.0.0.1:8080:80/tcp", "80" or "8000-8002:8000-8002" (got ${JSON.stringify(entry)})`,
  };
  const [spec = "", protocol = "tcp", ...extra] = text.split("/");
  if (extra.length > 0 || !PROTOCOLS.has(protocol)) return bad;
  // Drop a host IP first: `[::1]:8080:80`, `127.0.0.1:8080:80`, or `::1:8080:80`'s last two parts.
  let rest = spec;
  const v6 = /^\[[0-9A-Fa-f:.]+\]:(.*)$/.exec(rest);
  if (v6) rest = v6[1] ?? "";
  const parts = rest.split(":");
  // An IPv6 address holds at least two colons (`::1`); anything else before HOST:CONTAINER is one IPv4 address or name.
  if (!v6 && parts.length > 3 && (parts.slice(0, -2).join(":").match(/:/g)?.length ?? 0) >= 2) {
    parts.splice(0, parts.length - 2);
  } else if (!v6 && parts.length === 3) {
    parts.shift();
  }
  if (parts.length > 2) return bad;
  const container = portRange(parts[parts.length - 1] ?? "");
  const host = parts.length === 2 ? parts[0] : undefined;
  if (!container) return bad;
  if (host !== undefined && host !== "") {
    const h = portRange(host);
    // A host range must match the container range one to one, or be one port for a container range.
    if (!h || (h[1] - h[0] !== container[1] - container[0] && h[0] !== h[1])) return bad;
  }
  const out: PublishedPort[] = [];
  for (let p = container[0]; p <= container[1]; p++) {
    out.push({
      target: p,
      protocol: protocol as PublishedPort["protocol"],
      ...(host !== undefined && host !== "" && { published: host }),
    });
  }
  return { ok: true, value: out };
}

/**
 * Well-known ports that do not speak HTTP: databases, caches, brokers, mail,
 * directory and remote shells. The edge routes HTTP only, so such a port is
 * never routed even when it is a service's first published port. Each value
 * names the protocol for the warning.
 */
export const NON_HTTP_PORTS: ReadonlyMap<number, string> = new Map([
  [21, "FTP"],
  [22, "SSH"],
  [23, "Telnet"],
  [25, "SMTP"],
  [53, "DNS"],
  [110, "POP3"],
  [143, "IMAP"],
  [389, "LDAP"],
  [445, "SMB"],
  [465, "SMTP over TLS"],
  [587, "SMTP submission"],
  [636, "LDAP over TLS"],
  [993, "IMAP over TLS"],
  [995, "POP3 over TLS"],
  [1433, "SQL Server"],
  [1521, "Oracle Database"],
  [1883, "MQTT"],
  [2181, "ZooKeeper"],
  [2375, "the Docker API"],
  [2376, "the Docker API"],
  [3306, "MySQL/MariaDB"],
  [3389, "RDP"],
  [4222, "NATS"],
  [4369, "Erlang's epmd"],
  [5222, "XMPP"],
  [5269, "XMPP"],
  [5432, "PostgreSQL"],
  [5671, "AMQP over TLS"],
  [5672, "AMQP (RabbitMQ)"],
  [6222, "NATS clustering"],
  [6379, "Redis"],
  [6380, "Redis"],
  [7000, "Cassandra"],
  [7001, "Cassandra"],
  [7687, "Neo4j's Bolt"],
  [8883, "MQTT over TLS"],
  [9042, "Cassandra's CQL"],
  [9092, "Kafka"],
  [9300, "Elasticsearch's transport"],
  [11211, "Memcached"],
  [25565, "Minecraft"],
  [25672, "RabbitMQ clustering"],
  [26257, "CockroachDB's SQL"],
  [27017, "MongoDB"],
  [27018, "MongoDB"],
  [27019, "MongoDB"],
  [28015, "RethinkDB"],
  [50000, "the Jenkins agent protocol"],
  [61613, "STOMP"],
  [61616, "ActiveMQ"],
]);

/** Ports that speak HTTP over TLS: the edge terminates TLS itself and routes plain HTTP, so they are not routed. */
export const TLS_PORTS: ReadonlySet<number> = new Set([443, 8443, 9443]);

/** Why a published port is not routable, or undefined when the edge may route HTTP to it. */
export function notRoutable(port: PublishedPort): string | undefined {
  if (port.protocol !== "tcp") {
    return `${port.protocol.toUpperCase()} port ${port.target} is not routed: the edge routes HTTP over TCP only`;
  }
  const protocol = NON_HTTP_PORTS.get(port.target);
  if (protocol)
    return `port ${port.target} is ${protocol}'s, not HTTP, so the edge does not route it`;
  if (TLS_PORTS.has(port.target)) {
    return `port ${port.target} speaks HTTPS, and the edge terminates TLS itself and routes plain HTTP, so it does not route it`;
  }
  return undefined;
}
