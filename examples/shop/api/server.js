import { createServer } from "node:http";
import { products } from "./products.js";

const port = Number(process.env.PORT ?? 4000);

const server = createServer((request, response) => {
  if (request.url === "/healthz") return response.end("ok\n");
  if (request.url === "/products") {
    response.setHeader("content-type", "application/json");
    return response.end(JSON.stringify(products));
  }
  response.statusCode = 404;
  response.end("not found\n");
}).listen(port, () => console.log(`api listening on :${port}`));

// Keep idle connections open longer than the edge keeps its pooled ones, so
// the edge never sends a request on a connection the app is closing (Node's
// default is 5 s).
server.keepAliveTimeout = 65_000;

// Docker stops a replica with SIGTERM. As PID 1, node would ignore it and be
// killed only after the grace period: finish the requests in flight and exit.
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
