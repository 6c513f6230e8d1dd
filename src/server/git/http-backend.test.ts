import { describe, expect, it } from "vitest";
import { basicCredentials } from "./http-backend.js";

describe("basicCredentials", () => {
  const encode = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`;
  it("reads any user and the password, which may hold colons", () => {
    expect(basicCredentials(encode("me:skiff_abc"))).toEqual({ user: "me", password: "skiff_abc" });
    expect(basicCredentials(encode(":tok:en"))).toEqual({ user: "", password: "tok:en" });
  });
  it("refuses other schemes and malformed values", () => {
    expect(basicCredentials(undefined)).toBeUndefined();
    expect(basicCredentials("Bearer skiff_abc")).toBeUndefined();
    expect(basicCredentials(encode("no-colon"))).toBeUndefined();
  });
});
