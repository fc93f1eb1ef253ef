/**
 * The status page (`GET /` on the metrics port) in headless Chromium: the page
 * loads with no external asset, renders /status.json (connections, handled
 * messages, the chart, a recent protocol error) and keeps refreshing itself.
 * Skips, saying why, where Debian's `chromium` is not installed.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { test } from "node:test";
import { RawClient, openClient } from "../helpers/raw-client.js";
import { get } from "./ops-helpers.js";
import { startServeWithMetrics } from "./ops-helpers.js";

const CHROMIUM = ["chromium", "chromium-browser"].find((c) => spawnSync(c, ["--version"]).status === 0);

function dumpDom(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      CHROMIUM as string,
      // --virtual-time-budget: run the page's timers (fetch, 2 s refresh) without waiting in real time.
      ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom", url],
      { timeout: 60_000, maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`))),
    ),
  );
}

test("the status page renders the server's state in headless Chromium", async (t) => {
  if (CHROMIUM === undefined) return t.skip("chromium is not installed (Debian: apt-get install chromium)");
  const { serve, port, metricsUrl } = await startServeWithMetrics(t);
  const held = await openClient(port, "robot-7");
  held.client.sendMessages(1, 25);
  await held.client.waitAck(25);
  const bad = await RawClient.connect({ port });
  bad.sendRaw("GET / HTTP/1.1\r\n\r\n");
  await bad.waitClosed();

  const page = await get(`${metricsUrl}/`);
  assert.equal(page.status, 200);
  assert.match(page.contentType, /^text\/html/);
  assert.doesNotMatch(page.body, /(src|href)=["']?(https?:)?\/\//, "no external asset");

  const dom = await dumpDom(`${metricsUrl}/`);
  assert.match(dom, /<body[^>]*data-loaded="true"/, "the script fetched /status.json and rendered it");
  assert.match(dom, /id="connections">1</, "one connected client");
  assert.match(dom, /id="handled">25</, "25 messages handled");
  assert.match(dom, /id="state" class="ok">ready</);
  assert.match(dom, /<path d="M0/, "the msg/s chart is drawn");
  assert.match(dom, /OUTLAST_PROTOCOL_ERROR/, "the protocol error is listed");
  assert.match(dom, /every message handed to the handler is acknowledged/);

  await held.client.close();
  serve.child.kill("SIGTERM");
  assert.equal((await serve.waitExit()).code, 0);
});
