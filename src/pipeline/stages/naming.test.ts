import { describe, expect, it } from "vitest";
import { imageTags, serviceRepository } from "./naming.js";

describe("serviceRepository", () => {
  it.each([
    ["web", "127.0.0.1:5000/shop/web"],
    ["db__primary", "127.0.0.1:5000/shop/db__primary"],
    // Repository names are lowercase; the spec keeps `Backend` as written.
    ["Backend", "127.0.0.1:5000/shop/backend"],
  ])("puts service %s at %s", (service, repository) => {
    expect(serviceRepository("127.0.0.1:5000", "shop", service)).toBe(repository);
  });
});

describe("imageTags", () => {
  it("tags by commit and release, or by release alone without a commit", () => {
    expect(imageTags(3, "0123456789abcdef0123")).toEqual(["0123456789ab", "r3"]);
    expect(imageTags(3)).toEqual(["r3"]);
  });
});
