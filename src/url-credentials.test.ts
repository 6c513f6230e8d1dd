import { describe, expect, it } from "vitest";
import { maskUrlCredentials, scrubUrlCredentials } from "./url-credentials.js";

describe("maskUrlCredentials", () => {
  it.each([
    ["https://user:token@git.example.com/shop.git", "https://user:***@git.example.com/shop.git"],
    ["http://user:p%40ss@host:8080/shop.git", "http://user:***@host:8080/shop.git"],
    // The userinfo ends at the last @ of the authority.
    ["https://user:p@ss@host/shop.git", "https://user:***@host/shop.git"],
    ["https://ghp_abc123@github.com/o/r.git", "https://***@github.com/o/r.git"],
    ["https://oauth2:glpat-xyz@gitlab.com/o/r.git", "https://oauth2:***@gitlab.com/o/r.git"],
    ["https://:token@host/r.git", "https://:***@host/r.git"],
    ["ssh://git@host/o/r.git", "ssh://git@host/o/r.git"],
    ["ssh://git:pw@host/o/r.git", "ssh://git:***@host/o/r.git"],
    ["git@github.com:o/r.git", "git@github.com:o/r.git"],
    ["https://git.example.com/shop.git", "https://git.example.com/shop.git"],
    // An @ after the authority is part of the path, not a credential.
    ["https://host/o/r@v2.git", "https://host/o/r@v2.git"],
    ["file:///srv/git/shop.git", "file:///srv/git/shop.git"],
    ["/srv/git/shop.git", "/srv/git/shop.git"],
    // Not a URL git accepts, but an error quoting it still must not show the password.
    ["-x://u:token@h/r", "-x://u:***@h/r"],
  ])("%s → %s", (url, masked) => {
    expect(maskUrlCredentials(url)).toBe(masked);
  });
});

describe("scrubUrlCredentials", () => {
  const url = "https://deploy:s3cr%2Ft@git.example.com/shop.git";

  it("masks the URL and every form of its password that git may print", () => {
    const text = [
      `fatal: unable to access '${url}/': Could not resolve host: git.example.com`,
      "fatal: Authentication failed for 'https://deploy:s3cr/t@git.example.com/shop.git/'",
      "password s3cr%2Ft or s3cr/t",
    ].join("\n");
    const scrubbed = scrubUrlCredentials(text, url);
    expect(scrubbed).not.toContain("s3cr");
    expect(scrubbed).toContain("https://deploy:***@git.example.com/shop.git/");
  });

  it("leaves text alone when the URL holds no credentials", () => {
    const text = "fatal: repository 'https://host/shop.git/' not found";
    expect(scrubUrlCredentials(text, "https://host/shop.git")).toBe(text);
  });
});
