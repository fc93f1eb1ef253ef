// node-postgres and ioredis, made to fail for real against fake servers on
// loopback (pg's DatabaseErrors come from real ErrorResponse messages).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import { errorResponse, listenFakePostgres, READY_FOR_QUERY, SESSION_READY } from "../helpers/fake-postgres.js";
import {
  assertShape,
  assertVerdict,
  closedPort,
  listenTcp,
  rejectionOf,
  within,
  WAIT_MS,
} from "../helpers/library-errors.js";

// ---- node-postgres ---------------------------------------------------------

/** A pg Client whose 'error' events are collected (pg emits them after a query already failed). */
function pgClient(port: number): { client: pg.Client; events: unknown[]; end: () => Promise<void> } {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "outlast",
    database: "outlast",
    connectionTimeoutMillis: 5_000,
  });
  const events: unknown[] = [];
  client.on("error", (err) => events.push(err));
  return {
    client,
    events,
    end: () => within(client.end(), 1_000, "pg end").catch(() => undefined),
  };
}

const ADMIN_SHUTDOWN = { S: "FATAL", V: "FATAL", C: "57P01", M: "terminating connection due to administrator command" };

test("pg: connect to a closed port is ECONNREFUSED: refused", async () => {
  const port = await closedPort();
  const { client, end } = pgClient(port);
  try {
    const err = await rejectionOf(() => client.connect(), WAIT_MS, "pg refused");
    assertShape(err, { code: "ECONNREFUSED", syscall: "connect" });
    assertVerdict(err, { connection: true, kind: "refused", delivered: "no" });
  } finally {
    await end();
  }
});

test("pg: a server that accepts then closes is the code-less 'Connection terminated unexpectedly': reset", async () => {
  const tcp = await listenTcp((socket) => socket.end());
  const { client, end } = pgClient(tcp.port);
  try {
    const err = await rejectionOf(() => client.connect(), WAIT_MS, "pg terminated at connect");
    assertShape(err, { name: "Error", message: "Connection terminated unexpectedly", code: undefined });
    assertVerdict(err, { connection: true, kind: "reset" });
  } finally {
    await end();
    await tcp.close();
  }
});

test("pg: a server that resets at connect is ECONNRESET: reset", async () => {
  const tcp = await listenTcp((socket) => socket.resetAndDestroy());
  const { client, end } = pgClient(tcp.port);
  try {
    const err = await rejectionOf(() => client.connect(), WAIT_MS, "pg reset at connect");
    assertShape(err, { code: "ECONNRESET" });
    assertVerdict(err, { connection: true, kind: "reset", code: "ECONNRESET" });
  } finally {
    await end();
    await tcp.close();
  }
});

test("pg: the server closing during a query is 'Connection terminated unexpectedly' (also emitted as 'error')", async () => {
  const fake = await listenFakePostgres({ onQuery: (socket) => socket.end() });
  const { client, events, end } = pgClient(fake.port);
  try {
    await within(client.connect(), WAIT_MS, "pg connect");
    const err = await rejectionOf(() => client.query("select 1"), WAIT_MS, "pg query terminated");
    assertShape(err, { message: "Connection terminated unexpectedly", code: undefined });
    assertVerdict(err, { connection: true, kind: "reset", delivered: "maybe" });
    for (const event of events) assertVerdict(event, { connection: true });
  } finally {
    await end();
    await fake.close();
  }
});

for (const [code, message] of [
  ["57P01", "terminating connection due to administrator command"],
  ["57P02", "terminating connection due to crash of another server process"],
  ["08006", "connection failure"],
] as const) {
  test(`pg: a FATAL ErrorResponse with SQLSTATE ${code} during a query is a connection error`, async () => {
    const fake = await listenFakePostgres({
      onQuery: (socket) => socket.end(errorResponse({ S: "FATAL", V: "FATAL", C: code, M: message })),
    });
    const { client, events, end } = pgClient(fake.port);
    try {
      await within(client.connect(), WAIT_MS, "pg connect");
      const err = await rejectionOf(() => client.query("select 1"), WAIT_MS, `pg ${code}`);
      // pg's DatabaseError: name is the lowercase "error"; the SQLSTATE is in `code`.
      assertShape(err, { name: "error", code, severity: "FATAL", message });
      assertVerdict(err, { connection: true, kind: "reset", code });
      // pg then emits the socket end as an 'error' event on the client.
      for (const event of events) assertVerdict(event, { connection: true });
    } finally {
      await end();
      await fake.close();
    }
  });
}

test("pg: SQLSTATE 57P03 (the database system is starting up) at startup: refused, delivered no", async () => {
  const fake = await listenFakePostgres({
    onStartup: (socket) =>
      socket.end(errorResponse({ S: "FATAL", V: "FATAL", C: "57P03", M: "the database system is starting up" })),
  });
  const { client, end } = pgClient(fake.port);
  try {
    const err = await rejectionOf(() => client.connect(), WAIT_MS, "pg 57P03");
    assertShape(err, { name: "error", code: "57P03", severity: "FATAL" });
    assertVerdict(err, { connection: true, kind: "refused", code: "57P03", delivered: "no" });
  } finally {
    await end();
    await fake.close();
  }
});

test("pg: an idle client told 57P01 (pg_terminate_backend) gets it as an 'error' event: connection error", async () => {
  const fake = await listenFakePostgres({
    onStartup: (socket) => {
      socket.write(SESSION_READY);
      socket.end(errorResponse(ADMIN_SHUTDOWN));
    },
  });
  const client = new pg.Client({ host: "127.0.0.1", port: fake.port, user: "outlast", database: "outlast" });
  const firstError = new Promise<unknown>((resolve) => client.on("error", resolve));
  try {
    await within(client.connect(), WAIT_MS, "pg connect").catch(() => undefined); // the FATAL may land before or after connect resolves
    const err = await within(firstError, WAIT_MS, "pg idle 57P01");
    assertShape(err, { code: "57P01", severity: "FATAL" });
    assertVerdict(err, { connection: true, code: "57P01" });
  } finally {
    await within(client.end(), 1_000, "pg end").catch(() => undefined);
    await fake.close();
  }
});

test("pg: a syntax error (SQLSTATE 42601) is a bug", async () => {
  const fake = await listenFakePostgres({
    onQuery: (socket) =>
      socket.write(
        Buffer.concat([
          errorResponse({ S: "ERROR", V: "ERROR", C: "42601", M: 'syntax error at or near "selec"', P: "1" }),
          READY_FOR_QUERY,
        ]),
      ),
  });
  const { client, end } = pgClient(fake.port);
  try {
    await within(client.connect(), WAIT_MS, "pg connect");
    const err = await rejectionOf(() => client.query("selec 1"), WAIT_MS, "pg 42601");
    assertShape(err, { name: "error", code: "42601", severity: "ERROR" });
    assertVerdict(err, { connection: false, kind: "other" });
  } finally {
    await end();
    await fake.close();
  }
});

// ---- ioredis ---------------------------------------------------------------

/** ioredis failing fast: no retries, no reconnects unless asked, 'error' events collected. */
function redis(
  port: number,
  options: { reconnect?: boolean; offlineQueue?: boolean } = {},
): { client: Redis; events: unknown[] } {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: options.offlineQueue ?? true,
    retryStrategy: options.reconnect === true ? () => 10_000 : () => null,
  });
  const events: unknown[] = [];
  client.on("error", (err: unknown) => events.push(err));
  return { client, events };
}

test("ioredis: a server that drops the command's connection gives 'Connection is closed.': not-connected", async () => {
  const tcp = await listenTcp((socket) => socket.on("data", () => socket.destroy()));
  const { client } = redis(tcp.port);
  try {
    const err = await rejectionOf(() => client.get("key"), WAIT_MS, "ioredis closed");
    assertShape(err, { name: "Error", message: "Connection is closed.", code: undefined });
    assertVerdict(err, { connection: true, kind: "not-connected" });
  } finally {
    client.disconnect();
    await tcp.close();
  }
});

test("ioredis: connect() to a closed port rejects 'Connection is closed.'; the 'error' event has the ECONNREFUSED", async () => {
  const port = await closedPort();
  const { client, events } = redis(port);
  try {
    const err = await rejectionOf(() => client.connect(), WAIT_MS, "ioredis refused");
    assertShape(err, { message: "Connection is closed." });
    assertVerdict(err, { connection: true, kind: "not-connected" });
    assert.ok(events.length >= 1, "ioredis emits the socket error as an 'error' event");
    assertShape(events[0], { code: "ECONNREFUSED" });
    assertVerdict(events[0], { connection: true, kind: "refused" });
  } finally {
    client.disconnect();
  }
});

test("ioredis: with reconnects on and maxRetriesPerRequest 0 it is MaxRetriesPerRequestError: not-connected", async () => {
  const tcp = await listenTcp((socket) => socket.on("data", () => socket.destroy()));
  const { client } = redis(tcp.port, { reconnect: true });
  try {
    const err = await rejectionOf(() => client.get("key"), WAIT_MS, "ioredis max retries");
    assertShape(err, {
      name: "MaxRetriesPerRequestError",
      message: /^Reached the max retries per request limit \(which is 0\)/,
    });
    assertVerdict(err, { connection: true, kind: "not-connected" });
  } finally {
    client.disconnect();
    await tcp.close();
  }
});

test("ioredis: a command while not connected with enableOfflineQueue false: not-connected", async () => {
  const port = await closedPort();
  const { client } = redis(port, { offlineQueue: false });
  try {
    const err = await rejectionOf(() => client.get("key"), WAIT_MS, "ioredis offline");
    assertShape(err, { message: "Stream isn't writeable and enableOfflineQueue options is false" });
    assertVerdict(err, { connection: true, kind: "not-connected", delivered: "no" });
  } finally {
    client.disconnect();
  }
});
