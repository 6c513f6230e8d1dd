import { STATUS_CODES } from "node:http";
import { type Server, Socket } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";

/** How long a refused client has to read the answer before its connection is dropped. */
const LINGER_MS = 2000;

/**
 * Connections left open after a refusal, by the server that accepted them.
 * A lingering socket does not read, so it does not notice the client
 * leaving; the server's close drops them (`dropLingering`) instead of
 * waiting LINGER_MS for each.
 */
const lingering = new WeakMap<Server, Set<Socket>>();

/** Destroys the connections `server` keeps after refusals; for its shutdown. */
export function dropLingering(server: Server): void {
  for (const socket of lingering.get(server) ?? []) socket.destroy();
}

/** Whether the request announced a body (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
function announcesBody(request: FastifyRequest): boolean {
  const length = request.headers["content-length"];
  if (length !== undefined && length !== "0") return true;
  return request.headers["transfer-encoding"] !== undefined;
}

/** Whether the request has a body Skiff has not read (and, refusing it, never will). */
export function hasUnreadBody(request: FastifyRequest): boolean {
  return announcesBody(request) && !request.raw.complete;
}

/**
 * Marks an answer to close the connection when the request's body was not
 * read. Left open, Node's HTTP server would read and discard the rest of the
 * body to reuse the connection (`_http_server.js`, resOnFinish →
 * `req._dump()`). For answers that do not go through `refuse` (the git
 * routes' own errors).
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  if (hasUnreadBody(request)) reply.header("connection", "close");
}

/**
 * Sends a refusal. When the request's body is unread, the answer is written
 * on the socket directly and the body is never read: the socket stops
 * reading (the kernel's buffers fill and TCP flow control stops the sender),
 * the answer goes out followed by a FIN, and the connection is dropped
 * LINGER_MS later or when the client closes it. Node's own path for
 * `Connection: close` (reply, then destroy the socket as soon as the answer
 * is written) does not do: closing a socket with unread data makes the
 * kernel send a RST and discard what it had not sent yet (RFC 1122
 * §4.2.2.13), the answer included, which measured here lost it for 4 of 20
 * concurrent 24 MB uploads.
 */
export function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): FastifyReply {
  // `inject` (tests) has no socket to write to, and its body is all there.
  if (!hasUnreadBody(request) || !(request.raw.socket instanceof Socket)) {
    return reply.code(status).headers(headers).send(body);
  }
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  const head = Object.entries({
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(payload.length),
    connection: "close",
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  request.log.info(
    { res: { statusCode: status } },
    "request refused before its body was read; connection closed",
  );
  reply.hijack();
  const socket = request.raw.socket;
  socket.pause();
  socket.end(
    Buffer.concat([
      Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n${head}\r\n`),
      payload,
    ]),
  );
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  const server = (socket as Socket & { server?: Server }).server;
  let sockets: Set<Socket> | undefined;
  if (server) {
    sockets = lingering.get(server) ?? new Set();
    lingering.set(server, sockets);
    sockets.add(socket);
  }
  socket.once("close", () => {
    clearTimeout(timer);
    sockets?.delete(socket);
  });
  return reply;
}
