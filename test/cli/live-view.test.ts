/**
 * The live view on a real terminal: `outlast demo` under tmux (a pseudo-
 * terminal) draws its view in place on stderr while the report goes to a
 * piped file untouched; and the renderer never writes escape codes off a TTY.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { LiveRegion } from "../../src/cli/live/live-region.js";
import { stripAnsi, truncate } from "../../src/cli/live/ansi.js";
import { progressBar } from "../../src/cli/live/widgets.js";
import { bin, cleanEnv, ESCAPE, tempDir } from "./cli-process.js";

function tmuxAvailable(): boolean {
  return spawnSync("tmux", ["-V"]).status === 0;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Polls the pane (a terminal has no event to wait on) until `check` passes; fails after timeoutMs. */
async function waitForScreen(session: string, check: (screen: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = "";
  while (Date.now() < deadline) {
    screen = execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" });
    if (check(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the screen never matched within ${timeoutMs} ms; last screen:\n${screen}`);
}

test("demo on a terminal (tmux): the live view is drawn in place; stdout piped to a file gets only the report", async (t) => {
  if (!tmuxAvailable()) {
    t.skip("tmux is not installed: cannot run the demo under a pseudo-terminal");
    return;
  }
  const dir = tempDir(t);
  const report = join(dir, "report.txt");
  const done = join(dir, "done");
  const session = `outlast-live-${process.pid}`;
  const env = cleanEnv();
  const command = `${shellQuote(process.execPath)} ${shellQuote(bin)} demo --messages 1500 --duration 4s --seed 3 > ${shellQuote(report)}; echo $? > ${shellQuote(done)}; sleep 60`;
  execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], {
    env: { ...env, TERM: "xterm-256color" },
  });
  t.after(() => spawnSync("tmux", ["kill-session", "-t", session]));

  const during = await waitForScreen(
    session,
    (s) => /outlast demo · seed 3/.test(s) && /\d+ \/ 1,500 delivered/.test(s) && /link +● \w+/.test(s),
    15_000,
  );
  assert.match(during, /[█░]{10,}/, "a progress bar");
  assert.match(during, /rate +[\d,]+ msg\/s +queue [\d,]+/);
  assert.match(during, /survived +/);
  // Redrawn in place: the header appears once on the screen, not once per frame.
  assert.equal(during.match(/outlast demo · seed 3/g)?.length, 1, during);

  const after = await waitForScreen(session, (s) => /1,500 \/ 1,500 delivered/.test(s) && readable(done), 40_000);
  assert.equal(after.match(/outlast demo · seed 3/g)?.length, 1, after);
  assert.match(after, /causes +(ECONNRESET|OUTLAST_|GOODBYE)/);
  assert.equal(readFileSync(done, "utf8").trim(), "0");
  const text = readFileSync(report, "utf8");
  assert.doesNotMatch(text, ESCAPE, "no escape codes in piped stdout");
  assert.match(text, /^ {2}lost +0$/m);
  assert.match(text, /^OK: every message arrived/m);
});

function readable(path: string): boolean {
  try {
    return readFileSync(path, "utf8").trim() !== "";
  } catch {
    return false;
  }
}

function collect(stream: PassThrough): () => string {
  let text = "";
  stream.setEncoding("utf8").on("data", (s: string) => (text += s));
  return () => text;
}

test("LiveRegion off a TTY writes plain lines and never an escape code; on a TTY it redraws in place", () => {
  const plainOut = new PassThrough();
  const plain = collect(plainOut);
  const a = new LiveRegion(plainOut, { frame: () => ["frame"], line: () => "progress", tty: false });
  a.start();
  a.render();
  a.log("a notice");
  a.stop();
  assert.equal(plain(), "a notice\n");
  assert.doesNotMatch(plain(), ESCAPE);

  const ttyOut = Object.assign(new PassThrough(), { columns: 30 });
  const tty = collect(ttyOut);
  let n = 0;
  const b = new LiveRegion(ttyOut, { frame: () => [`frame ${++n}`, "x".repeat(100)], tty: true });
  b.start();
  b.render();
  b.log("kept line");
  b.stop();
  const out = tty();
  assert.ok(out.startsWith("\x1b[?25l"), "hides the cursor");
  assert.ok(out.endsWith("\x1b[?25h"), "shows it again");
  assert.ok(out.includes("\x1b[2F"), "moves up over the previous two lines to redraw");
  assert.ok(
    stripAnsi(out)
      .split("\n")
      .every((l) => l.length <= 29),
    "lines are cut to the terminal width",
  );
  assert.match(stripAnsi(out), /kept line\n/);
});

test("widgets: the bar fills by eighths; truncate keeps escape codes whole", () => {
  assert.equal(progressBar(0, 4), "░░░░");
  assert.equal(progressBar(1, 4), "████");
  assert.equal(progressBar(0.5, 4), "██░░");
  assert.equal(progressBar(1 / 32, 4), "▏░░░");
  assert.equal(progressBar(0.5, 4, false), "##--");
  assert.equal(stripAnsi(truncate("\x1b[32mgreen text\x1b[39m", 5)), "gree…");
});

test("LiveRegion with plainOnChange: an unchanged progress line is printed once, a changed one again", async () => {
  const out = new PassThrough();
  const text = collect(out);
  let calls = 0;
  let line = "idle";
  let sixth: () => void = () => {};
  const sixthCall = new Promise<void>((resolve) => (sixth = resolve));
  const region = new LiveRegion(out, {
    frame: () => [],
    line: () => {
      if (++calls === 3) line = "moved";
      if (calls === 6) sixth();
      return line;
    },
    tty: false,
    plainIntervalMs: 1,
    plainOnChange: true,
  });
  region.start();
  const alive = setInterval(() => {}, 60_000); // the region's timer is unref'd: keep the test's event loop running
  await sixthCall; // six progress ticks: "idle" twice, then "moved" four times
  clearInterval(alive);
  region.stop();
  assert.equal(text(), "idle\nmoved\n");
});
