import { createServer } from "node:http";
import { renderPage } from "./page.js";

const port = Number(process.env.PORT ?? 3000);
const apiUrl = process.env.API_URL ?? "http://api:4000";
const greeting = process.env.GREETING ?? "Hello from Skiff";

const server = createServer(async (request, response) => {
  if (request.url === "/healthz") return response.end("ok\n");
  try {
    // The api service is reached by its service name on the app's network.
    const products = await (await fetch(`${apiUrl}/products`)).json();
    response.setHeader("content-type", "text/html; charset=utf-8");
    response.end(renderPage(greeting, products));
  } catch (error) {
    response.statusCode = 502;
    response.end(`the api service did not answer: ${error.message}\n`);
  }
});

// A Node.js process's first fetch loads its HTTP client (about 50 ms here,
// several times that while a deploy keeps the CPUs busy) and opens its
// first connection to api. Done before listening, that cost is not paid by
// the first requests the edge sends to a new replica. api may not answer
// yet (the first deploy starts both): web starts anyway.
await fetch(`${apiUrl}/products`, { signal: AbortSignal.timeout(2_000) }).catch(() => {});
server.listen(port, () => console.log(`web listening on :${port}`));

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
