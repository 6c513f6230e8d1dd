// The dashboard's only way to Skiff: the REST API at /api/v1 with the admin
// token as a bearer token, the same API the CLI uses (DESIGN.md, "Interfaces").

const TOKEN_KEY = "skiff.adminToken";

/** An answer that was not 2xx, with the API's own message and hint (`{"error": {...}}`). */
export class ApiError extends Error {
  constructor(status, message, hint) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.hint = hint;
  }
}

export function storedToken() {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function storeToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/** The API path of an app, with its name escaped. */
export function appPath(name) {
  return `/apps/${encodeURIComponent(name)}`;
}

async function errorOf(response) {
  let message = `the server answered ${response.status} ${response.statusText}`.trim();
  let hint;
  try {
    const body = await response.json();
    if (typeof body?.error?.message === "string") {
      message = body.error.message;
      hint = body.error.hint;
    }
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is.
  }
  return new ApiError(response.status, message, hint);
}

/** Sends one request with the token; resolves with the response when it is 2xx, else throws ApiError. */
export async function request(path, { method = "GET", body, signal } = {}) {
  const headers = { authorization: `Bearer ${storedToken()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(
      0,
      "Skiff's server does not answer",
      "check that it runs: ./bin/skiff server status",
    );
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson(path, signal) {
  return (await request(path, { signal })).json();
}

export async function postJson(path, body, signal) {
  return (await request(path, { method: "POST", body, signal })).json();
}

/** Parses one Server-Sent Events block; undefined for comments and keep-alives. */
function parseEventBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length === 0 ? undefined : { event, data: data.join("\n") };
}

/**
 * Reads a text/event-stream answer as it arrives, yielding each event's
 * parsed JSON data. EventSource cannot send an Authorization header and the
 * stream routes accept only that, so this reads the body with fetch().
 */
export async function* serverSentEvents(path, signal) {
  const response = await request(path, { signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let boundary = buffer.indexOf("\n\n");
    while (boundary !== -1) {
      const parsed = parseEventBlock(buffer.slice(0, boundary));
      buffer = buffer.slice(boundary + 2);
      if (parsed) yield JSON.parse(parsed.data);
      boundary = buffer.indexOf("\n\n");
    }
  }
}
