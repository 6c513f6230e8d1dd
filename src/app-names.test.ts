import { describe, expect, it } from "vitest";
import { appNameProblem, assertAppName } from "./app-names.js";

describe("app names", () => {
  it.each([
    ["shop", undefined],
    ["shop-api", undefined],
    ["a", undefined],
    ["9lives", undefined],
    ["a".repeat(63), undefined],
    ["", "is empty"],
    ["a".repeat(64), "is 64 characters long; at most 63 are allowed"],
    ["Shop", 'contains "S"; use only lowercase letters, digits and "-"'],
    ["shop_api.v2", 'contains "_", "."; use only lowercase letters, digits and "-"'],
    ["-shop", 'must not start or end with "-"'],
    ["shop-", 'must not start or end with "-"'],
    ["bases", "is reserved by Skiff; choose another name"],
  ])("%j → %s", (name, problem) => {
    expect(appNameProblem(name)).toBe(problem);
  });

  it("throws a validation error that names the name and the rules", () => {
    expect(() => assertAppName("My App")).toThrow(/app name "My App" contains "M", " "/);
    try {
      assertAppName("My App");
    } catch (error) {
      expect((error as { status: number }).status).toBe(400);
      expect((error as { hint: string }).hint).toContain("DNS label rules");
    }
  });
});
