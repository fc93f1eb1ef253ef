/**
 * The operator's files in docs/ops stay true: the systemd unit passes
 * `systemd-analyze verify` (where systemd is installed), the example config is
 * accepted by `outlast serve`, and every metric the Grafana dashboard and the
 * alert rules use is one we export and document in docs/operations.md.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "./cli-process.js";

// compiled to dist/test/cli/: the repository root is three levels up
const root = fileURLToPath(new URL("../../../", import.meta.url));
const file = (p: string): string => `${root}${p}`;

test("docs/ops/outlast.service passes systemd-analyze verify", async (t) => {
  if (spawnSync("systemd-analyze", ["--version"]).status !== 0)
    return t.skip("systemd-analyze is not installed (Debian: systemd)");
  const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile("systemd-analyze", ["verify", file("docs/ops/outlast.service")], (err, _stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number((err as { code?: unknown }).code ?? 1), stderr }),
    ),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), "", "no warnings");
});

test("docs/ops/serve.toml is a valid `outlast serve --config`", async (t) => {
  const r = await run(t, ["serve", "--config", file("docs/ops/serve.toml"), "--help"]);
  assert.equal(r.exit.code, 0, r.stderr);
});

test("every metric the Grafana dashboard and the alert rules use is documented in docs/operations.md", () => {
  const doc = readFileSync(file("docs/operations.md"), "utf8");
  const documented = new Set([...doc.matchAll(/^\| `(outlast_[a-z_]+)` \|/gm)].map((m) => m[1]));
  assert.ok(documented.has("outlast_connections") && documented.has("outlast_client_queued_messages"));
  const used = (text: string): Set<string> =>
    new Set(
      [...text.matchAll(/\b(outlast_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)]
        .map((m) => m[1] as string)
        .filter((n) => n !== "outlast_serve"),
    );
  const dashboard = JSON.stringify(JSON.parse(readFileSync(file("docs/ops/grafana-dashboard.json"), "utf8")));
  const alerts = readFileSync(file("docs/ops/alerts.yml"), "utf8");
  for (const name of [...used(dashboard), ...used(alerts)])
    assert.ok(documented.has(name), `${name} is used but not in docs/operations.md's metrics reference`);
});
