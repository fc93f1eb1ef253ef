#!/usr/bin/env node
/**
 * The `outlast` binary: a tiny dispatcher. `outlast <command> [args]`; each
 * command lives in its own file under ./commands/ and is loaded on demand.
 */

import { readFileSync } from "node:fs";
import { usageOf } from "./args.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandIo } from "./command.js";

const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  demo: {
    summary: "a live delivery through injected faults (resets, blackholes, crashes), checked message by message",
    load: async () => (await import("./commands/demo.js")).demo,
  },
  explain: {
    summary: "what an error code or errno means on each platform, and what a client should do",
    load: async () => (await import("./commands/explain.js")).explain,
  },
  outbox: {
    summary: "inspect or purge a durable outbox directory (what `outlast send` has not delivered yet)",
    load: async () => (await import("./commands/outbox.js")).outbox,
  },
  proxy: {
    summary: "a TCP proxy that injects network faults (latency, blackhole, reset, ...) to test a client",
    load: async () => (await import("./commands/proxy.js")).proxy,
  },
  send: {
    summary: "read messages from stdin or files, store them in a durable outbox, deliver them to a server",
    load: async () => (await import("./commands/send.js")).send,
  },
  serve: {
    summary: "listen for outlast clients and write every delivered message to stdout or a file",
    load: async () => (await import("./commands/serve.js")).serve,
  },
};

function version(): string {
  try {
    // dist/src/cli/main.js -> package.json at the package root
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

function help(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "outlast: get every message from a client to a server over networks that drop; tell a connection error from a bug",
    "",
    "Usage: outlast <command> [args]",
    "       outlast <command> --help",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]?.summary ?? ""}`),
    "",
    "Options:",
    "  -h, --help     show this help",
    "  -v, --version  print the version",
    "",
    "Exit codes: 0 ok, 1 the command failed (e.g. an unknown code), 2 usage error, 130 interrupted (a second Ctrl-C).",
    "",
  ].join("\n");
}

async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(help());
    return EXIT_USAGE;
  }
  if (first === "-h" || first === "--help" || first === "help") {
    const topic = first === "help" ? rest[0] : undefined;
    if (topic === undefined) {
      io.out(help());
      return EXIT_OK;
    }
    return main([topic, "--help"], io);
  }
  if (first === "-v" || first === "--version") {
    io.out(`${version()}\n`);
    return EXIT_OK;
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (entry === undefined) {
    const what = first.startsWith("-") ? `unknown option ${first}` : `unknown command "${first}"`;
    io.err(`outlast: ${what}; run \`outlast --help\` for the list\n`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(
        `outlast ${first}: ${err.message}\n${usageOf(command.help)}Run \`outlast ${first} --help\` for every option.\n`,
      );
      return EXIT_USAGE;
    }
    throw err;
  }
}

const io: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One clear line, never a stack trace.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`outlast: ${message.split("\n")[0] ?? "failed"}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
