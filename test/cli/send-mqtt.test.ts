/**
 * `outlast send mqtt://...` as a real child process against a real Mosquitto:
 * lines published with their identity, rejected credentials, the flags' usage errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Mosquitto, mosquittoSkipReason } from "../helpers/mosquitto.js";
import { within } from "../helpers/wait.js";
import { Subscriber } from "../client/transport/mqtt-wire.js";
import { run, tempDir } from "./cli-process.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;

before(async () => {
  if (skip === undefined) broker = await Mosquitto.start({ users: { robot: "secret" } });
});
after(async () => {
  await broker?.stop();
});

test(
  "send mqtt://: stdin lines reach a subscriber in order with outlast-client-id and outlast-seq; exit 0",
  { skip },
  async (t) => {
    const dir = tempDir(t);
    const sub = await Subscriber.start(broker.url, "cli/events", { username: "robot", password: "secret" });
    try {
      const lines = Array.from({ length: 300 }, (_, i) => `line ${i + 1}`);
      const send = await run(
        t,
        [
          "send",
          broker.url,
          "--topic",
          "cli/events",
          "--username",
          "robot",
          "--outbox",
          join(dir, "ob"),
          "--client-id",
          "cli-robot",
        ],
        `${lines.join("\n")}\n`,
        { OUTLAST_PASSWORD: "secret" },
      );
      assert.equal(send.exit.code, 0, send.stderr);
      assert.match(send.stderr, /300 messages acknowledged by mqtt:\/\/127\.0\.0\.1:\d+/);
      await within(sub.receivedAtLeast(300), 10_000, "subscriber");
      assert.deepEqual(
        sub.messages.map((m) => m.data.toString()),
        lines,
      );
      assert.ok(sub.messages.every((m, i) => m.clientId === "cli-robot" && m.seq === i + 1));
    } finally {
      await sub.close();
    }
  },
);

test(
  "send mqtt:// with a wrong password: names the flags to check, keeps the message, exits 1",
  { skip },
  async (t) => {
    const dir = tempDir(t);
    const args = ["send", broker.url, "--topic", "cli/x", "--username", "robot", "--password", "wrong"];
    const send = await run(t, [...args, "--outbox", join(dir, "ob")], "kept\n");
    assert.equal(send.exit.code, 1, send.stderr);
    assert.match(send.stderr, /rejected our credentials \(MQTT reason code \d+\): check --username and --password/);
    assert.match(send.stderr, /1 message is still stored/);
  },
);

test("send: mqtt flag usage errors exit 2 naming the flag", { skip }, async (t) => {
  const cases: [string[], RegExp][] = [
    [["send", broker.url], /needs --topic/],
    [["send", "tcp://127.0.0.1:1", "--topic", "x"], /--topic needs an mqtt:\/\/ or mqtts:\/\/ URL/],
    [["send", broker.url, "--topic", "x", "--token", "t"], /--token is for outlast servers/],
    [["send", broker.url, "--topic", "x", "--mqtt-version", "4"], /--mqtt-version must be one of auto, 5, 3\.1\.1/],
    [["send", `${broker.url},tcp://127.0.0.1:1`, "--topic", "x"], /cannot be mixed/],
  ];
  for (const [args, message] of cases) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
