/**
 * Usage errors of every command in one voice: the error in the CLI's words
 * (never node:util's "Unknown option '--x'" or "argument is ambiguous"), the
 * command's usage lines, and where the help is; exit 2.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkArgs, usageOf } from "../../src/cli/args.js";
import { run } from "./cli-process.js";

test("usage errors of every command: one voice, the flag as typed, the command's usage lines", async (t) => {
  for (const [args, first] of [
    [["demo", "--messages", "-5"], 'outlast demo: --messages must be a whole number from 1 to 10000000, not "-5"'],
    [["demo", "--bogus"], "outlast demo: unknown option --bogus"],
    [["demo", "--json=yes"], "outlast demo: --json takes no value"],
    [["send", "tcp://127.0.0.1:1", "--outbox"], "outlast send: --outbox needs a value"],
    [
      ["serve", "--state", "--listen", "127.0.0.1:0"],
      'outlast serve: --state needs a value, but the next argument is the option --listen (a value that starts with "-" goes as --state=VALUE)',
    ],
    [["serve", "extra"], 'outlast serve: unexpected argument "extra"'],
    [["proxy", "--upstream", "7000", "-x"], "outlast proxy: unknown option -x"],
    [["outbox", "inspect", "/tmp", "--bogus"], "outlast outbox: unknown option --bogus"],
    [["explain", "54", "--platform"], "outlast explain: --platform needs a value"],
    // A library's option name becomes the flag that set it.
    [["send", "tcp://127.0.0.1:1", "--client-id", ""], "outlast send: --client-id is empty"],
    [["proxy", "--upstream", "7000", "--slicer", "0"], "outlast proxy: --slicer must be >= 1, not 0"],
  ] as const) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines[0], first);
    assert.match(lines[1] ?? "", new RegExp(`^Usage: outlast ${args[0]} `));
    assert.equal(lines.at(-1), `Run \`outlast ${args[0]} --help\` for every option.`);
    assert.doesNotMatch(r.stderr, /Unknown option|ambiguous|positional/);
    assert.equal(r.stdout, "");
  }
});

test("checkArgs: a negative number is a value, `--` ends the options, a short flag is known by its letter", () => {
  const specs = { messages: { type: "string" }, yes: { type: "boolean", short: "y" } } as const;
  assert.deepEqual(checkArgs(["--messages", "-5", "-y"], specs, false), ["--messages=-5", "-y"]);
  assert.deepEqual(checkArgs(["a", "--", "--not-an-option"], specs, true), ["a", "--", "--not-an-option"]);
  assert.deepEqual(checkArgs(["-104"], specs, true), ["-104"]);
  assert.throws(() => checkArgs(["-z"], specs, false), /^UsageError: unknown option -z$/);
  assert.throws(() => checkArgs(["pos"], specs, false), /^UsageError: unexpected argument "pos"$/);
  assert.equal(usageOf("Usage: x [--a]\n       x b\n\nMore."), "Usage: x [--a]\n       x b\n");
});
