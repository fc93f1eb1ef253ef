import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, isOutlastError, readMqttEnvelope } from "../../../src/index.js";
import { envelopeHeader } from "../../../src/client/transport/mqtt/envelope.js";
import { parseEndpoint } from "../../../src/client/url.js";

function optionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isOutlastError(err, "OUTLAST_INVALID_OPTION"), String(err));
    return String(err.details.option);
  }
  assert.fail("expected OUTLAST_INVALID_OPTION");
}

test("mqtt options: topic required and checked; token refused; broker options refused on tcp://; no mixed lists", () => {
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1")),
    "topic",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "a/+/b" })),
    "topic",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "a/#" })),
    "topic",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "" })),
    "topic",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "t", token: "x" })),
    "token",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "t", mqtt: { version: "4" as never } })),
    "mqtt.version",
  );
  assert.equal(
    optionOf(() => connect("mqtt://127.0.0.1:1", { topic: "t", password: 7 as never })),
    "password",
  );
  assert.equal(
    optionOf(() => connect("tcp://127.0.0.1:1", { topic: "t" })),
    "topic",
  );
  assert.equal(
    optionOf(() => connect("tcp://127.0.0.1:1", { username: "u" })),
    "username",
  );
  assert.equal(
    optionOf(() => connect("tls://127.0.0.1:1", { mqtt: {} })),
    "mqtt",
  );
  assert.equal(
    optionOf(() => connect(["mqtt://a:1", "tcp://b:2"], { topic: "t" })),
    "url[1]",
  );
});

test("mqtt URLs: default ports 1883 and 8883, mqtts is TLS", () => {
  assert.deepEqual(parseEndpoint("mqtt://broker.local"), {
    scheme: "mqtt",
    transport: "mqtt",
    secure: false,
    host: "broker.local",
    port: 1883,
    href: "mqtt://broker.local",
  });
  const s = parseEndpoint("mqtts://[::1]");
  assert.deepEqual([s.secure, s.host, s.port], [true, "::1", 8883]);
  assert.equal(parseEndpoint("mqtt://h:1884").port, 1884);
});

test("mqtt envelope: round trip, and payloads that are not envelopes", () => {
  const data = Buffer.from([0, 10, 255, 10]);
  const enveloped = Buffer.concat([envelopeHeader('robot "7"\n', 42), data]);
  assert.deepEqual(readMqttEnvelope(enveloped), { clientId: 'robot "7"\n', seq: 42, data });
  assert.equal(readMqttEnvelope(Buffer.from("plain text")), undefined);
  assert.equal(readMqttEnvelope(Buffer.from('{"outlast-client-id":"a"}\nx')), undefined);
  assert.equal(readMqttEnvelope(Buffer.from('{"outlast-client-id":"a","outlast-seq":"0"}\nx')), undefined);
  assert.equal(readMqttEnvelope(Buffer.from('{"outlast-client-id":"a","outlast-seq":7}\nx')), undefined);
});
