import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("uses the spec's defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: "127.0.0.1", port: 8080, dataDir: path.resolve("./data") });
  });

  it("reads the environment and lets explicit overrides win", () => {
    const env = { HOST: "0.0.0.0", PORT: "9000", CHAOSCYPHER_DATA_DIR: "/tmp/x" };
    expect(loadConfig(env)).toMatchObject({ host: "0.0.0.0", port: 9000, dataDir: "/tmp/x" });
    expect(loadConfig(env, { port: 9100 }).port).toBe(9100);
  });

  it("fails fast naming the variable that is wrong", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
  });
});

describe("CHAOSCYPHER_NOTIFY_URL", () => {
  it("refuses a URL with credentials in one line that does not repeat them", () => {
    const env = { CHAOSCYPHER_NOTIFY_URL: "https://hook-user:s3cr3t-token@hooks.example.com/notify" };
    let message = "";
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^invalid configuration: CHAOSCYPHER_NOTIFY_URL: must not carry credentials/);
    expect(message).not.toContain("s3cr3t");
    expect(message).not.toContain("\n");
    expect(loadConfig({ CHAOSCYPHER_NOTIFY_URL: "https://hooks.example.com/notify/T0K3N" }).notifyUrl).toBe(
      "https://hooks.example.com/notify/T0K3N",
    );
  });
});
