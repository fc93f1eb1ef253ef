// Lint rule `outlast/import-direction`: imports run one way (docs: STYLE.md, "Imports run one way"):
//   cli -> client, server, proxy, gateway -> protocol, outbox -> storage -> errors
// (storage is the durable log, lock and file-system layer under the outbox and the server's state)
// errors imports nothing of ours; errors, protocol, the outbox and storage know no sockets; the server never
// imports the client; the proxy stands apart (errors only: it moves bytes and knows no protocol);
// nothing imports cli. Library folders take no runtime package statically: a dependency is loaded
// with import() on the path that needs it, so `outlast/errors` and the plain client stay
// dependency-free. Paths are resolved, not matched as strings, so `../` depth cannot fool it.
import { builtinModules } from "node:module";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = resolve(ROOT, "src");

/** Node modules that open sockets: errors, protocol and the outbox must not know them. */
const SOCKET_MODULES = ["net", "tls", "dgram", "http", "https", "http2"];

/**
 * Each top-level folder of src/ (and "index", src/index.ts): the folders of ours it may import,
 * and whether it may import a runtime package statically (true, or a list of allowed packages).
 */
export const LAYERS = {
  errors: { imports: [], packages: false, sockets: false },
  protocol: { imports: ["errors"], packages: false, sockets: false },
  // The durable log, lock and file-system layer the outbox and the server's state are built on.
  storage: { imports: ["errors"], packages: false, sockets: false },
  outbox: { imports: ["storage", "errors"], packages: false, sockets: false },
  // The client loads src/jetstream (and through it nats.js) with import() only, when a nats:// link opens.
  client: { imports: ["protocol", "outbox", "jetstream", "errors"], packages: false, sockets: true },
  server: { imports: ["protocol", "outbox", "storage", "errors"], packages: false, sockets: true },
  proxy: { imports: ["errors"], packages: false, sockets: true },
  // The exactly-once JetStream writer (one client's messages into its own subject, beyond the
  // duplicate window) and the NATS link under it: ONE implementation, used by the gateway and by
  // the nats:// client transport, so it sits below both. nats.js is loaded with import() in
  // nats-link.ts only; the rest takes its types.
  jetstream: { imports: ["errors"], packages: ["@nats-io/"], sockets: false },
  // The NATS JetStream gateway: an outlast server (src/server) whose dedup state is the stream.
  gateway: {
    imports: ["server", "jetstream", "protocol", "outbox", "errors"],
    packages: ["nats", "@nats-io/"],
    sockets: true,
  },
  // The command line (with its metrics and logging in src/cli/observe): may use everything, and
  // its packages (pino, prom-client, ...) loaded on the commands that need them.
  cli: {
    imports: ["index", "client", "server", "proxy", "gateway", "jetstream", "protocol", "outbox", "storage", "errors"],
    packages: true,
    sockets: true,
  },
  index: { imports: ["client", "outbox", "errors"], packages: false, sockets: false },
};

const DIRECTION = "imports run cli -> client/server/proxy -> protocol/outbox -> storage -> errors (STYLE.md)";

/** The layer of an absolute path inside src/, or undefined outside src/. */
function layerOf(path) {
  const rel = relative(SRC, path);
  if (rel.startsWith("..") || rel === "") return undefined;
  const first = rel.split(sep)[0];
  return /^index\.[cm]?[jt]s$/.test(first) ? "index" : first;
}

function builtinName(source) {
  const name = source.startsWith("node:") ? source.slice(5) : source;
  const base = name.split("/")[0];
  return source.startsWith("node:") || builtinModules.includes(base) ? base : undefined;
}

function packageAllowed(rule, source) {
  if (rule.packages === true) return true;
  if (rule.packages === false) return false;
  return rule.packages.some((p) =>
    p.endsWith("/") ? source.startsWith(p) : source === p || source.startsWith(`${p}/`),
  );
}

/** @type {import("eslint").Rule.RuleModule} */
const importDirection = {
  meta: {
    type: "problem",
    docs: { description: "keep the one-way import direction between outlast's folders" },
    schema: [],
    messages: {
      upward: "src/{{from}} may not import src/{{to}}: {{direction}}.",
      unknownFolder:
        "src/{{from}} is not in the import-direction table (eslint-rules/import-direction.js): add it there.",
      outside: "src/{{from}} may not import {{source}} from outside src/.",
      socket: "src/{{from}} knows no sockets: it may not import {{source}}.",
      package:
        "src/{{from}} takes no runtime package statically ({{source}}): load it with import() on the path that needs it, or move the code to the CLI.",
    },
  },
  create(context) {
    const file = context.filename;
    const from = layerOf(file);
    if (from === undefined) return {};
    const rule = LAYERS[from];

    function check(node, source, { typeOnly, dynamic }) {
      if (rule === undefined) {
        context.report({ node, messageId: "unknownFolder", data: { from } });
        return;
      }
      if (source.startsWith(".")) {
        const target = resolve(dirname(file), source);
        const to = layerOf(target);
        if (to === undefined) {
          if (from !== "cli") context.report({ node, messageId: "outside", data: { from, source } });
          return;
        }
        if (to !== from && !rule.imports.includes(to))
          context.report({ node, messageId: "upward", data: { from, to, direction: DIRECTION } });
        return;
      }
      const builtin = builtinName(source);
      if (builtin !== undefined) {
        if (!rule.sockets && SOCKET_MODULES.includes(builtin))
          context.report({ node, messageId: "socket", data: { from, source } });
        return;
      }
      if (!typeOnly && !dynamic && !packageAllowed(rule, source))
        context.report({ node, messageId: "package", data: { from, source } });
    }

    const literal = (node) => (node?.type === "Literal" && typeof node.value === "string" ? node.value : undefined);
    const isTypeOnly = (node) =>
      node.importKind === "type" ||
      node.exportKind === "type" ||
      (node.specifiers?.length > 0 && node.specifiers.every((s) => s.importKind === "type" || s.exportKind === "type"));

    const declaration = (node) => {
      const source = literal(node.source);
      if (source !== undefined) check(node, source, { typeOnly: isTypeOnly(node), dynamic: false });
    };
    return {
      ImportDeclaration: declaration,
      ExportNamedDeclaration: declaration,
      ExportAllDeclaration: declaration,
      ImportExpression(node) {
        const source = literal(node.source);
        if (source !== undefined) check(node, source, { typeOnly: false, dynamic: true });
      },
      TSImportType(node) {
        const source = literal(node.argument?.literal ?? node.argument);
        if (source !== undefined) check(node, source, { typeOnly: true, dynamic: false });
      },
    };
  },
};

export default { meta: { name: "outlast" }, rules: { "import-direction": importDirection } };
