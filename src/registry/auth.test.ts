import { describe, expect, it } from "vitest";
import { Secret } from "../secret.js";
import {
  type AuthChallenge,
  type BearerChallenge,
  basicAuthorization,
  findBearerChallenge,
  parseTokenResponse,
  parseWwwAuthenticate,
  tokenRequestUrl,
} from "./auth.js";

describe("parseWwwAuthenticate", () => {
  it.each<[string, string | null, AuthChallenge[]]>([
    ["absent", null, []],
    [
      "Distribution htpasswd",
      'Basic realm="Registry Realm"',
      [{ scheme: "basic", params: { realm: "Registry Realm" } }],
    ],
    [
      "Distribution token auth",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:samalba/my-app:pull,push",
          },
        },
      ],
    ],
    [
      "two challenges, spaces, case, unquoted and escaped values",
      'basic Realm=plain , BEARER realm="http://a/t?x=1", scope="a b", error="say \\"hi\\""',
      [
        { scheme: "basic", params: { realm: "plain" } },
        {
          scheme: "bearer",
          params: { realm: "http://a/t?x=1", scope: "a b", error: 'say "hi"' },
        },
      ],
    ],
    ["scheme alone", "Negotiate", [{ scheme: "negotiate", params: {} }]],
  ])("%s", (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});

describe("findBearerChallenge", () => {
  it.each<[string, AuthChallenge[], BearerChallenge | undefined]>([
    ["none", [{ scheme: "basic", params: { realm: "r" } }], undefined],
    ["no realm", [{ scheme: "bearer", params: { service: "s" } }], undefined],
    [
      "after a basic one",
      [
        { scheme: "basic", params: { realm: "r" } },
        { scheme: "bearer", params: { realm: "http://t/token", service: "s", scope: "x" } },
      ],
      { realm: "http://t/token", service: "s", scope: "x" },
    ],
    [
      "realm only",
      [{ scheme: "bearer", params: { realm: "http://t/token" } }],
      { realm: "http://t/token" },
    ],
  ])("%s", (_name, challenges, expected) => {
    expect(findBearerChallenge(challenges)).toEqual(expected);
  });
});

describe("tokenRequestUrl", () => {
  it.each<[BearerChallenge, string]>([
    [
      {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:samalba/my-app:pull,push",
      },
      "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Asamalba%2Fmy-app%3Apull%2Cpush",
    ],
    [
      {
        realm: "http://127.0.0.1:1/token?account=x",
        scope: "repository:a:pull registry:catalog:*",
      },
      "http://127.0.0.1:1/token?account=x&scope=repository%3Aa%3Apull&scope=registry%3Acatalog%3A*",
    ],
    [{ realm: "http://127.0.0.1:1/token", service: "s" }, "http://127.0.0.1:1/token?service=s"],
  ])("%j", (challenge, expected) => {
    expect(tokenRequestUrl(challenge)).toBe(expected);
  });
});

describe("parseTokenResponse", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it.each<[string, unknown, { token: string; expiresAt: number } | undefined]>([
    ["token, default lifetime 60 s", { token: "t1" }, { token: "t1", expiresAt: now + 55_000 }],
    [
      "access_token (OAuth 2 name)",
      { access_token: "t2", expires_in: 300 },
      { token: "t2", expiresAt: now + 295_000 },
    ],
    [
      "lifetime counted from issued_at",
      { token: "t3", expires_in: 3600, issued_at: "2025-12-31T23:30:00Z" },
      { token: "t3", expiresAt: now + 1_795_000 },
    ],
    [
      "unparseable issued_at counts from now",
      { token: "t4", expires_in: 120, issued_at: "yesterday" },
      { token: "t4", expiresAt: now + 115_000 },
    ],
    ["no token", { expires_in: 60 }, undefined],
    ["not an object", "t", undefined],
  ])("%s", (_name, body, expected) => {
    const parsed = parseTokenResponse(body, now);
    expect(
      parsed === undefined
        ? undefined
        : { token: parsed.token.reveal(), expiresAt: parsed.expiresAt },
    ).toEqual(expected);
  });

  it("keeps the token in a Secret", () => {
    expect(JSON.stringify(parseTokenResponse({ token: "t1" }, now))).not.toContain("t1");
  });
});

describe("basicAuthorization", () => {
  it("is RFC 7617 user:password in base64, redacted when printed", () => {
    const header = basicAuthorization("ops", new Secret("pa:ss"));
    expect(header.reveal()).toBe(`Basic ${Buffer.from("ops:pa:ss").toString("base64")}`);
    expect(String(header)).toBe("[redacted]");
  });
});
