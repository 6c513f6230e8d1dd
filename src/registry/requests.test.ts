import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import {
  assertRepositoryName,
  catalogRequest,
  isDigest,
  manifestDeleteRequest,
  manifestGetRequest,
  manifestHeadRequest,
  nextPageRequest,
  parseLinkNext,
  pingRequest,
  type RegistryRequest,
  tagsRequest,
} from "./requests.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const MANIFEST_ACCEPT =
  "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
  "application/vnd.docker.distribution.manifest.list.v2+json, " +
  "application/vnd.docker.distribution.manifest.v2+json";

describe("request builders", () => {
  it.each<[string, () => RegistryRequest, RegistryRequest]>([
    ["ping", () => pingRequest(), { method: "GET", path: "/v2/", headers: {} }],
    [
      "catalog, registry's page size",
      () => catalogRequest(),
      {
        method: "GET",
        path: "/v2/_catalog",
        headers: { accept: "application/json" },
        scope: "registry:catalog:*",
      },
    ],
    [
      "catalog, page size 50",
      () => catalogRequest(50),
      {
        method: "GET",
        path: "/v2/_catalog?n=50",
        headers: { accept: "application/json" },
        scope: "registry:catalog:*",
      },
    ],
    [
      "tags",
      () => tagsRequest("shop/web"),
      {
        method: "GET",
        path: "/v2/shop/web/tags/list",
        headers: { accept: "application/json" },
        scope: "repository:shop/web:pull",
      },
    ],
    [
      "tags, page size 2",
      () => tagsRequest("shop/web", 2),
      {
        method: "GET",
        path: "/v2/shop/web/tags/list?n=2",
        headers: { accept: "application/json" },
        scope: "repository:shop/web:pull",
      },
    ],
    [
      "manifest HEAD by tag",
      () => manifestHeadRequest("shop/web", "v1.2_rc-1"),
      {
        method: "HEAD",
        path: "/v2/shop/web/manifests/v1.2_rc-1",
        headers: { accept: MANIFEST_ACCEPT },
        scope: "repository:shop/web:pull",
      },
    ],
    [
      "manifest HEAD by digest",
      () => manifestHeadRequest("a.b/c__d/e--f", DIGEST),
      {
        method: "HEAD",
        path: `/v2/a.b/c__d/e--f/manifests/${DIGEST}`,
        headers: { accept: MANIFEST_ACCEPT },
        scope: "repository:a.b/c__d/e--f:pull",
      },
    ],
    [
      "manifest GET",
      () => manifestGetRequest("shop/web", "latest"),
      {
        method: "GET",
        path: "/v2/shop/web/manifests/latest",
        headers: { accept: MANIFEST_ACCEPT },
        scope: "repository:shop/web:pull",
      },
    ],
    [
      "manifest DELETE",
      () => manifestDeleteRequest("shop/web", DIGEST),
      {
        method: "DELETE",
        path: `/v2/shop/web/manifests/${DIGEST}`,
        headers: {},
        scope: "repository:shop/web:delete",
      },
    ],
  ])("%s", (_name, build, expected) => {
    expect(build()).toEqual(expected);
  });

  it.each([
    ["", "empty"],
    ["Shop/web", "upper case"],
    ["shop//web", "empty component"],
    ["shop/web/", "trailing slash"],
    ["../etc", "path traversal"],
    ["shop/-web", "leading separator"],
    ["shop web", "space"],
    ["shop/web?x=1", "query"],
  ])("rejects repository name %j (%s)", (name) => {
    expect(() => tagsRequest(name)).toThrow(ValidationError);
    expect(() => assertRepositoryName(name)).toThrow(/not a valid registry repository name/);
  });

  it.each([".hidden", "-x", "a/b", "a".repeat(129), "sha256:short", ""])(
    "rejects reference %j",
    (reference) => {
      expect(() => manifestHeadRequest("shop/web", reference)).toThrow(ValidationError);
    },
  );

  it("deletes only by digest, saying why", () => {
    expect(() => manifestDeleteRequest("shop/web", "latest")).toThrow(
      /manifests are deleted by digest, not by tag/,
    );
  });

  it.each([
    [DIGEST, true],
    [`sha512:${"0".repeat(128)}`, true],
    ["latest", false],
    ["sha256:", false],
  ])("isDigest(%j) is %s", (reference, expected) => {
    expect(isDigest(reference)).toBe(expected);
  });
});

describe("pagination", () => {
  it.each<[string, string | null | undefined, string | undefined]>([
    ["no header", null, undefined],
    ["empty", "", undefined],
    [
      "Distribution's relative link",
      '</v2/_catalog?last=shop%2Fweb&n=2>; rel="next"',
      "/v2/_catalog?last=shop%2Fweb&n=2",
    ],
    [
      "absolute link, unquoted rel",
      "<http://r.example/v2/x/tags/list?n=1&last=a>; rel=next",
      "http://r.example/v2/x/tags/list?n=1&last=a",
    ],
    [
      "next among other relations",
      '</v2/_catalog?n=1>; rel="prev", </v2/_catalog?last=b&n=1>; rel="next"',
      "/v2/_catalog?last=b&n=1",
    ],
    ["rel list", '</p?n=1&last=c>; title="x"; rel="last next"', "/p?n=1&last=c"],
    ["only prev", '</v2/_catalog?n=1>; rel="prev"', undefined],
  ])("parseLinkNext: %s", (_name, header, expected) => {
    expect(parseLinkNext(header)).toBe(expected);
  });

  it.each([
    ["/v2/_catalog?last=b&n=2", "/v2/_catalog?last=b&n=2"],
    ["http://elsewhere.example:9999/v2/_catalog?last=b", "/v2/_catalog?last=b"],
  ])("nextPageRequest(%j) keeps only path and query", (link, path) => {
    expect(nextPageRequest(catalogRequest(2), link)).toEqual({ ...catalogRequest(2), path });
  });
});
