import assert from "node:assert/strict";
import { test } from "node:test";
import { PendingSend } from "../../src/client/pending-send.js";
import { renumberAfter, renumberMap } from "../../src/client/renumber.js";
import { SendsBySeq } from "../../src/client/sends-by-seq.js";

test("renumberAfter: memory outbox: a lastSeq above anything we sent moves every record we never sent", () => {
  const memory = { durable: false, nextSeqAtOpen: 1, highestSentEver: 6 };
  assert.equal(renumberAfter(0, memory), undefined, "a server that knows less: resend, nothing moves");
  assert.equal(renumberAfter(6, memory), undefined, "the server has all we sent");
  assert.equal(renumberAfter(7, memory), 6, "seq 7 was never sent by us: 7..10 move after the server's 7");
  assert.equal(renumberAfter(100, memory), 6);
  assert.equal(renumberAfter(3, { durable: false, nextSeqAtOpen: 1, highestSentEver: 0 }), 0, "nothing sent: all move");
});

test("renumberAfter: durable outbox: only a lastSeq above every seq any process sent from it moves every record", () => {
  // An earlier process may have sent anything below nextSeqAtOpen: a lastSeq there is ours.
  const durable = { durable: true, nextSeqAtOpen: 11, highestSentEver: 0 };
  assert.equal(renumberAfter(0, durable), undefined);
  assert.equal(renumberAfter(10, durable), undefined);
  assert.equal(renumberAfter(11, durable), 0);
  assert.equal(renumberAfter(500, durable), 0);
  // This process sent up to 40: a lastSeq up to there is ours.
  const sending = { durable: true, nextSeqAtOpen: 11, highestSentEver: 40 };
  assert.equal(renumberAfter(40, sending), undefined);
  assert.equal(renumberAfter(41, sending), 0);
  // A new outbox that stored 3,100 records before its first WELCOME, from a server at 3,024 for the
  // clientId: none was ever sent, so 1..3024 are not the server's duplicates (they were a silent loss).
  assert.equal(renumberAfter(3024, { durable: true, nextSeqAtOpen: 1, highestSentEver: 0 }), 0);
});

test("renumberMap: the live records take consecutive numbers, in order", () => {
  assert.deepEqual(
    [...renumberMap([2, 3, 7], 20)],
    [
      [2, 20],
      [3, 21],
      [7, 22],
    ],
  );
});

function send(): PendingSend {
  return new PendingSend(Buffer.from("x"), true, 0, Infinity, true, undefined);
}

test("SendsBySeq: seq -> send, settled in order by a cumulative acknowledgement, remapped by a renumber", async () => {
  const map = new SendsBySeq();
  const [a, b, c, d] = [send(), send(), send(), send()];
  map.add(3, a);
  map.add(4, b);
  map.add(7, c);
  map.add(9, d);
  assert.equal(map.get(4), b);
  assert.equal(map.get(5), undefined);
  assert.equal(map.get(1), undefined);
  assert.equal(map.get(10), undefined);
  b.settle(new Error("dropped"), undefined);
  b.promise.catch(() => undefined);
  assert.equal(map.get(4), undefined, "a settled send is not found");
  map.acknowledge(3);
  assert.deepEqual(await a.promise, { seq: 3 });
  assert.equal(map.size, 3);
  // The outbox renumbered its live records 7 and 9 to 20 and 21 (4 was dropped).
  map.renumber(renumberMap([7, 9], 20));
  assert.equal(map.size, 2, "the settled send is left out");
  assert.equal(map.get(7), undefined);
  assert.equal(map.get(21), d);
  map.acknowledge(20);
  assert.deepEqual(await c.promise, { seq: 20 }, "resolved with its new seq");
  const err = new Error("closed");
  map.failAll(err);
  await assert.rejects(d.promise, err);
  assert.equal(map.size, 0);
});
