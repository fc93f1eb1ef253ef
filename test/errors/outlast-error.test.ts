import assert from "node:assert/strict";
import { test } from "node:test";
import type { AnyOutlastError } from "../../src/errors/outlast-error.js";
import type * as ErrorsModule from "../../src/errors/outlast-error.js";
import {
  OUTLAST_ERROR_CODES,
  OutlastError,
  RETIRED_OUTLAST_ERROR_CODES,
  isOutlastError,
  isOutlastErrorCode,
} from "../../src/errors/outlast-error.js";

type Module = typeof ErrorsModule;

/** A second, separate instance of the module: what two copies of the package in one process look like. */
async function secondCopy(): Promise<Module> {
  const url = new URL("../../src/errors/outlast-error.js", import.meta.url);
  url.searchParams.set("copy", "2");
  return (await import(url.href)) as Module;
}

test("the guard recognises an error from another copy of the package, by code", async () => {
  const other = await secondCopy();
  assert.notEqual(other.OutlastError, OutlastError, "a real second copy");
  const theirs = new other.OutlastError("OUTLAST_OUTBOX_LOCKED", "locked", { details: { dir: "/q", pid: 42 } });
  assert.ok(isOutlastError(theirs, "OUTLAST_OUTBOX_LOCKED"));
  assert.equal(isOutlastError(theirs, "OUTLAST_STATE_LOCKED"), false);
  assert.ok(theirs instanceof OutlastError, "instanceof agrees across copies too");
  const ours = new OutlastError("OUTLAST_CLOSED", "closed");
  assert.ok(other.isOutlastError(ours, "OUTLAST_CLOSED"));
  assert.ok(ours instanceof other.OutlastError);
});

test("the guard is not fooled by an object that merely has an OUTLAST_ code", () => {
  const impostor = Object.assign(new Error("x"), { code: "OUTLAST_CLOSED" });
  assert.equal(isOutlastError(impostor), false);
  assert.equal(isOutlastError(impostor, "OUTLAST_CLOSED"), false);
  assert.equal(isOutlastError({ code: "OUTLAST_CLOSED", details: {} }), false);
  assert.equal(impostor instanceof OutlastError, false);
  for (const v of [null, undefined, 0, "OUTLAST_CLOSED", Symbol("x")]) assert.equal(isOutlastError(v), false);
  // A throwing getter or a revoked Proxy is not ours, and the guard does not throw.
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(isOutlastError(proxy), false);
  const hostile = new Proxy(new OutlastError("OUTLAST_CLOSED", "x"), {
    get(target, key) {
      if (key === "code") throw new Error("boom");
      return Reflect.get(target, key) as unknown;
    },
  });
  assert.equal(isOutlastError(hostile), false);
});

test("a branded error with a code this build does not know is not an OutlastError of this build", () => {
  const future = new OutlastError("OUTLAST_CLOSED", "from a newer copy");
  Object.defineProperty(future, "code", { value: "OUTLAST_FROM_THE_FUTURE" });
  assert.equal(isOutlastError(future), false);
  assert.equal(isOutlastErrorCode("OUTLAST_FROM_THE_FUTURE"), false);
  assert.equal(isOutlastErrorCode("toString"), false, "only own codes, not Object.prototype's keys");
});

test("a subclass keeps ordinary instanceof", () => {
  class Mine extends OutlastError<"OUTLAST_CLOSED"> {}
  const plain = new OutlastError("OUTLAST_CLOSED", "x");
  const mine = new Mine("OUTLAST_CLOSED", "y");
  assert.equal(plain instanceof Mine, false);
  assert.ok(mine instanceof Mine);
  assert.ok(isOutlastError(mine, "OUTLAST_CLOSED"));
});

test("details are typed per code: switching on code narrows them, no cast needed", () => {
  const errors: unknown[] = [
    new OutlastError("OUTLAST_OUTBOX_LOCKED", "locked", { details: { dir: "/q", pid: 7 } }),
    new OutlastError("OUTLAST_INVALID_OPTION", "bad", { details: { option: "maxBytes" } }),
    new OutlastError("OUTLAST_CLOSED", "closed"),
  ];
  const seen: string[] = [];
  for (const err of errors) {
    if (!isOutlastError(err)) continue;
    const e: AnyOutlastError = err;
    switch (e.code) {
      case "OUTLAST_OUTBOX_LOCKED":
        seen.push(`${e.details.dir}:${e.details.pid}`);
        break;
      case "OUTLAST_INVALID_OPTION":
        seen.push(e.details.option);
        break;
      default:
        seen.push(e.code);
    }
  }
  assert.deepEqual(seen, ["/q:7", "maxBytes", "OUTLAST_CLOSED"]);
  assert.deepEqual(new OutlastError("OUTLAST_CLOSED", "x").details, {}, "no details: an empty object");
});

// Compile-time checks: the build fails when one of these stops being an error.
export function typeChecks(): void {
  // @ts-expect-error details are required when the code's details have a required field
  new OutlastError("OUTLAST_OUTBOX_LOCKED", "locked");
  // @ts-expect-error a field of the wrong type
  new OutlastError("OUTLAST_OUTBOX_LOCKED", "locked", { details: { dir: "/q", pid: "42" } });
  // @ts-expect-error a field another code has
  new OutlastError("OUTLAST_CLOSED", "closed", { details: { pid: 1 } });
  // @ts-expect-error a code that does not exist
  new OutlastError("OUTLAST_RETRY_EXHAUSTED", "retired");
}

test("retired codes are never live again", () => {
  assert.ok(RETIRED_OUTLAST_ERROR_CODES.includes("OUTLAST_RETRY_EXHAUSTED"));
  for (const code of RETIRED_OUTLAST_ERROR_CODES) {
    assert.equal(isOutlastErrorCode(code), false, `${code} is retired and must not be reused`);
  }
  assert.equal(new Set(OUTLAST_ERROR_CODES).size, OUTLAST_ERROR_CODES.length);
  assert.ok(Object.isFrozen(OUTLAST_ERROR_CODES));
});
