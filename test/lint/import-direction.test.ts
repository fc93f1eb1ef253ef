// The import direction (cli -> client/server/proxy -> protocol/outbox -> errors) is enforced by
// eslint-rules/import-direction.js, wired in eslint.config.js. These tests show a violation fails.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint, Linter } from "eslint";
import tseslint from "typescript-eslint";

// compiled to <outDir>/test/lint/: the repository root is three levels up
const root = fileURLToPath(new URL("../../../", import.meta.url));
const plugin = (
  (await import(new URL("eslint-rules/import-direction.js", `file://${root}`).href)) as { default: ESLint.Plugin }
).default;

const linter = new Linter({ configType: "flat" });
const config: Linter.Config[] = [
  {
    files: ["**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { outlast: plugin },
    rules: { "outlast/import-direction": "error" },
  },
];

/** The rule's messages for `code` written in the file `path` (relative to the repository root). */
function lint(path: string, code: string): string[] {
  return linter.verify(code, config, { filename: join(root, path) }).map((m) => m.message);
}

test("allowed imports pass", () => {
  assert.deepEqual(lint("src/client/x.ts", 'import { a } from "../protocol/frames.js";'), []);
  assert.deepEqual(
    lint("src/client/x.ts", 'import { a } from "../outbox/outbox.js";\nimport net from "node:net";'),
    [],
  );
  assert.deepEqual(lint("src/outbox/log/x.ts", 'import { a } from "../../errors/outlast-error.js";'), []);
  assert.deepEqual(lint("src/errors/errno/x.ts", 'import { a } from "../errno-tables.js";'), []);
  assert.deepEqual(
    lint("src/cli/commands/x.ts", 'import { a } from "../../server/server.js";\nimport pino from "pino";'),
    [],
  );
  assert.deepEqual(
    lint("src/gateway/x.ts", 'import { a } from "../server/server.js";\nimport { connect } from "nats";'),
    [],
  );
  assert.deepEqual(lint("src/gateway/x.ts", 'import { jetstream } from "@nats-io/jetstream";'), []);
  assert.deepEqual(
    lint("src/server/x.ts", 'const nats = await import("nats");'),
    [],
    "a dynamic import loads on the path that needs it",
  );
  assert.deepEqual(lint("src/client/x.ts", 'import type { Socket } from "some-types";'), [], "type-only is erased");
  assert.deepEqual(
    lint("test/client/x.ts", 'import { a } from "../../src/cli/main.js";'),
    [],
    "tests may reach anything",
  );
});

test("each broken rule of the direction is an error", () => {
  const cases: [path: string, code: string, expected: RegExp][] = [
    ["src/server/x.ts", 'import { a } from "../client/client.js";', /src\/server may not import src\/client/],
    ["src/server/sub/x.ts", 'export { a } from "../../client/client.js";', /src\/server may not import src\/client/],
    [
      "src/errors/x.ts",
      'import type { Frame } from "../protocol/frames.js";',
      /src\/errors may not import src\/protocol/,
    ],
    ["src/outbox/x.ts", 'import { a } from "../protocol/frames.js";', /src\/outbox may not import src\/protocol/],
    ["src/protocol/x.ts", 'import { a } from "../outbox/outbox.js";', /src\/protocol may not import src\/outbox/],
    ["src/storage/x.ts", 'import { a } from "../outbox/outbox.js";', /src\/storage may not import src\/outbox/],
    ["src/storage/x.ts", 'import { Socket } from "node:net";', /src\/storage knows no sockets/],
    ["src/outbox/log/x.ts", 'import { Socket } from "node:net";', /src\/outbox knows no sockets/],
    ["src/outbox/x.ts", 'import tls from "tls";', /src\/outbox knows no sockets/],
    ["src/errors/x.ts", 'const h = await import("node:http");', /src\/errors knows no sockets/],
    ["src/proxy/x.ts", 'import { a } from "../protocol/frames.js";', /src\/proxy may not import src\/protocol/],
    ["src/client/x.ts", 'import { a } from "../cli/main.js";', /src\/client may not import src\/cli/],
    ["src/server/x.ts", 'const m = await import("../cli/observe/log.js");', /src\/server may not import src\/cli/],
    ["src/gateway/x.ts", 'import { a } from "../client/client.js";', /src\/gateway may not import src\/client/],
    ["src/client/x.ts", 'import mqtt from "mqtt";', /takes no runtime package statically \(mqtt\)/],
    ["src/gateway/x.ts", 'import pino from "pino";', /takes no runtime package statically \(pino\)/],
    ["src/newthing/x.ts", 'import { a } from "../errors/index.js";', /not in the import-direction table/],
    ["src/server/x.ts", 'import pkg from "../../package.json";', /from outside src/],
  ];
  for (const [path, code, expected] of cases) {
    const messages = lint(path, code);
    assert.equal(messages.length, 1, `${path}: ${code} -> ${JSON.stringify(messages)}`);
    assert.match(messages[0]!, expected);
  }
});

test("eslint.config.js turns the rule on for every file in src/", async () => {
  const eslint = new ESLint({ cwd: root });
  for (const file of ["src/errors/classify.ts", "src/server/server.ts", "src/cli/main.ts", "src/gateway/new.ts"]) {
    const cfg = (await eslint.calculateConfigForFile(join(root, file))) as { rules: Record<string, unknown> };
    assert.deepEqual(cfg.rules["outlast/import-direction"], [2], file);
  }
});
