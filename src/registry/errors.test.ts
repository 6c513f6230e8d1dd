import { describe, expect, it } from "vitest";
import {
  describeHttpFailure,
  describeNetworkError,
  type HttpFailure,
  parseErrorBody,
} from "./errors.js";

function fetchFailed(code: string): Error {
  return new TypeError("fetch failed", {
    cause: Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code }),
  });
}

describe("describeNetworkError", () => {
  it.each<[string, unknown, RegExp, RegExp]>([
    ["refused", fetchFailed("ECONNREFUSED"), /connection refused/, /skiff server/],
    [
      "refused on both stacks",
      new TypeError("fetch failed", {
        cause: new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]),
      }),
      /connection refused/,
      /SKIFF_REGISTRY_URL/,
    ],
    ["timeout", new DOMException("aborted", "TimeoutError"), /no answer within 250 ms/, /running/],
    ["dns", fetchFailed("ENOTFOUND"), /does not resolve/, /host in SKIFF_REGISTRY_URL/],
    ["reset", fetchFailed("ECONNRESET"), /closed before an answer/, /log/],
    ["https to http", fetchFailed("EPROTO"), /TLS/, /http:\/\//],
    ["unknown", new Error("boom"), /request failed: boom/, /SKIFF_REGISTRY_URL/],
  ])("%s", (_name, error, reason, hint) => {
    const described = describeNetworkError(error, 250);
    expect(described.reason).toMatch(reason);
    expect(described.hint).toMatch(hint);
  });
});

describe("describeHttpFailure", () => {
  const base = { action: "list the tags of shop/web", errors: [] };
  it.each<[string, HttpFailure, RegExp, RegExp]>([
    [
      "401 anonymous",
      { ...base, status: 401 },
      /could not list the tags of shop\/web: the registry requires authentication \(401\)/,
      /set SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD/,
    ],
    [
      "401 with credentials",
      { ...base, status: 401, username: "ops" },
      /rejected the credentials of user "ops" \(401\)/,
      /check SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD/,
    ],
    [
      "403",
      { ...base, status: 403, username: "ops", errors: [{ code: "DENIED", message: "no" }] },
      /access denied \(403\): DENIED no/,
      /give user "ops"/,
    ],
    [
      "405 deletes disabled",
      {
        action: "delete manifest sha256:x of shop/web",
        status: 405,
        errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }],
      },
      /deletes disabled \(405: UNSUPPORTED The operation is unsupported\.\)/,
      /storage: delete: enabled: true/,
    ],
    ["429", { ...base, status: 429 }, /rate limited/, /wait/],
    [
      "500",
      { ...base, status: 500, errors: [{ code: "UNKNOWN", message: "disk full" }] },
      /failed with 500: UNKNOWN disk full/,
      /registry's log/,
    ],
    ["other", { ...base, status: 418 }, /unexpected answer 418/, /HTTP API v2/],
  ])("%s", (_name, failure, reason, hint) => {
    const described = describeHttpFailure(failure);
    expect(described.reason).toMatch(reason);
    expect(described.hint).toMatch(hint);
  });
});

describe("parseErrorBody", () => {
  it.each([
    [
      '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}',
      [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }],
    ],
    ['{"errors":[{"code":"UNSUPPORTED"}, 3]}', [{ code: "UNSUPPORTED", message: "" }]],
    ["<html>nope</html>", []],
    ["", []],
    ['{"errors":"x"}', []],
  ])("%j", (text, expected) => {
    expect(parseErrorBody(text)).toEqual(expected);
  });
});
