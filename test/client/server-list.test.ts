import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, isOutlastError } from "../../src/index.js";
import { passOf, ServerList } from "../../src/client/server-list.js";
import { parseEndpoints } from "../../src/client/url.js";
import { rng } from "../helpers/seed.js";

const FOUR = ["tcp://gw1:7300", "tcp://gw2:7300", "tls://gw3:7301", "tcp://[::1]:7302"];

function invalidOptionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isOutlastError(err, "OUTLAST_INVALID_OPTION"), String(err));
    return `${String(err.details["option"])}: ${err.message}`;
  }
  assert.fail("expected OUTLAST_INVALID_OPTION");
}

test("server list: an array, a comma-separated string and a single URL give the same endpoints", () => {
  const fromArray = parseEndpoints(FOUR);
  assert.deepEqual(
    fromArray.map((e) => [e.secure, e.host, e.port]),
    [
      [false, "gw1", 7300],
      [false, "gw2", 7300],
      [true, "gw3", 7301],
      [false, "::1", 7302],
    ],
  );
  assert.deepEqual(parseEndpoints(FOUR.join(", ")), fromArray);
  assert.deepEqual(parseEndpoints([new URL("tcp://gw1:7300")]), [parseEndpoints("tcp://gw1:7300")[0]]);
  assert.equal(parseEndpoints("tcp://gw1:7300").length, 1);
});

test("server list: an invalid entry throws OUTLAST_INVALID_OPTION naming the entry", () => {
  assert.match(
    invalidOptionOf(() => parseEndpoints(["tcp://a:1", "http://b:2"])),
    /^url\[1\]: .*scheme "http:"/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints("tcp://a:1,tcp://b")),
    /^url\[1\]: .*has no port/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints("tcp://a:1,,tcp://b:2")),
    /^url\[1\]: .*empty/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints("tcp://a:1,")),
    /^url\[1\]: .*empty/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints(["tcp://a:1", "tcp://A:1/"])),
    /^url\[1\]: .*listed twice/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints([])),
    /^url: .*empty list/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints([42 as unknown as string])),
    /^url\[0\]: .*got number/,
  );
  assert.match(
    invalidOptionOf(() => parseEndpoints("tcp//a:1")),
    /^url: /,
  );
  // connect() checks the list before anything else, and a bad list starts nothing.
  assert.match(
    invalidOptionOf(() => connect(["tcp://127.0.0.1:1", "tcp://127.0.0.1"])),
    /^url\[1\]: .*no port/,
  );
});

test("server list: the order is a seeded shuffle, the same for the same random source, and round robin", () => {
  const seed = Number(process.env["OUTLAST_SEED"] ?? Date.now() % 1_000_000);
  const endpoints = parseEndpoints(FOUR);
  const orders = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const list = new ServerList(endpoints, rng(seed + i));
    const order = list.order().map((e) => e.href);
    assert.deepEqual([...order].sort(), [...FOUR].sort(), `a permutation (OUTLAST_SEED=${seed + i})`);
    assert.deepEqual(
      new ServerList(endpoints, rng(seed + i)).order().map((e) => e.href),
      order,
      `replayable (OUTLAST_SEED=${seed + i})`,
    );
    orders.add(order.join(" "));
    // Round robin: each server once per pass, in the shuffled order, forever.
    const visited = Array.from({ length: 8 }, () => list.next().endpoint.href);
    assert.deepEqual(visited, [...order, ...order]);
    assert.equal(list.current?.endpoint.href, order[3]);
    assert.equal(list.peekNext().endpoint.href, order[0]);
  }
  assert.ok(orders.size > 1, `40 seeds gave ${orders.size} order(s): the list is not shuffled (OUTLAST_SEED=${seed})`);
});

test("server list: the backoff attempt counts complete passes over the list", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((f) => passOf(f, 1)),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((f) => passOf(f, 3)),
    [0, 0, 0, 1, 1, 1, 2],
  );
});
