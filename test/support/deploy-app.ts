import { request } from "node:http";
import { TEST_IMAGE } from "./busybox-image.js";

/**
 * A two-service app on the busybox test image: `web` (httpd, 2 replicas,
 * behind the edge) answers `/` with its version and `/cgi-bin/api` by
 * calling `api` by its service name on the app network; `api` (httpd, no
 * route) is checked by its Compose healthcheck.
 *
 * Options change one thing each: `version` the page, `webCommand` what web
 * runs (a crash loop, a slow start), `healthPath` web's HTTP check.
 */
export function twoServiceApp(
  token: string,
  options: {
    version?: string;
    webCommand?: string;
    healthPath?: string;
    webReplicas?: number;
  } = {},
): Record<string, string> {
  const version = options.version ?? "v1";
  const webCommand = options.webCommand ?? "exec httpd -f -p 8080 -h /www";
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: ./web",
      "    depends_on: [api]",
      `    command: ["sh", "-c", ${JSON.stringify(webCommand)}]`,
      "    stop_grace_period: 2s",
      "    deploy:",
      `      replicas: ${options.webReplicas ?? 2}`,
      "    x-skiff:",
      "      port: 8080",
      `      health: { path: ${options.healthPath ?? "/"}, interval: 250ms, timeout: 15s }`,
      "  api:",
      "    build: ./api",
      "    stop_grace_period: 2s",
      "    healthcheck:",
      '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/"]',
      "      interval: 500ms",
      "      timeout: 2s",
      "      retries: 20",
      "",
    ].join("\n"),
    "web/Dockerfile": [`FROM ${TEST_IMAGE}`, "COPY www /www", ""].join("\n"),
    "web/www/index.html": `web ${version} ${token}\n`,
    // Healthy until /sick exists in the container (busybox httpd passes
    // a CGI answer that starts with "HTTP/" through as it is).
    "web/www/cgi-bin/health": [
      "#!/bin/sh",
      "if [ -f /sick ]; then",
      '  printf "HTTP/1.0 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nsick\\n"',
      "else",
      '  printf "Content-Type: text/plain\\r\\n\\r\\nok\\n"',
      "fi",
      "",
    ].join("\n"),
    "web/www/cgi-bin/api": [
      "#!/bin/sh",
      'printf "Content-Type: text/plain\\r\\n\\r\\n"',
      "wget -q -O - http://api:8000/",
      "",
    ].join("\n"),
    "api/Dockerfile": [
      `FROM ${TEST_IMAGE}`,
      "COPY www /www",
      'CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]',
      "",
    ].join("\n"),
    "api/www/index.html": `api ${token}\n`,
  };
}

/** GET through the edge with the app's Host header; status and body, or the socket error. */
export function getThroughEdge(
  edgePort: number,
  host: string,
  path = "/",
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port: edgePort, path, headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", (error) => resolve({ error: error.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) => resolve({ error: error.message }));
    req.end();
  });
}

/**
 * Sends GETs through the edge one after another until stopped, counting
 * what did not come back 2xx. For "traffic was served throughout".
 */
export function steadyTraffic(edgePort: number, host: string) {
  const failures: string[] = [];
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const result = await getThroughEdge(edgePort, host);
      sent++;
      if ("error" in result) failures.push(`socket: ${result.error}`);
      else if (result.status < 200 || result.status > 299)
        failures.push(`HTTP ${result.status}: ${result.body.slice(0, 80)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { sent, failures };
    },
  };
}
