/**
 * A block of lines at the bottom of a terminal that is redrawn in place (the
 * live view), or, when the stream is not a terminal, plain lines at a bounded
 * rate. Never writes an escape sequence to something that is not a TTY.
 *
 *   const live = new LiveRegion(process.stderr, { frame: () => [...], line: () => "..." });
 *   live.start();            // ~10 redraws a second on a TTY, a line every ~1 s otherwise
 *   live.log("a notice");    // printed above the live block (or as a plain line)
 *   live.stop();             // last frame stays on screen; cursor shown again
 */

import type { Writable } from "node:stream";
import { ansi, truncate } from "./ansi.js";

export interface LiveRegionOptions {
  /** The lines of the live view (TTY). */
  readonly frame: () => readonly string[];
  /** One progress line (not a TTY); undefined: print nothing this time. */
  readonly line?: () => string | undefined;
  /** Treat the stream as a terminal (default: its `isTTY`). */
  readonly tty?: boolean;
  /** Redraws per second on a TTY (default 10). */
  readonly fps?: number;
  /** Least time between two plain progress lines (default 1000 ms). */
  readonly plainIntervalMs?: number;
  /** Off a TTY, print a progress line only when it differs from the last one printed (default false). */
  readonly plainOnChange?: boolean;
}

type Out = Writable & { isTTY?: boolean; columns?: number };

export class LiveRegion {
  readonly tty: boolean;
  readonly #out: Out;
  readonly #o: LiveRegionOptions;
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastPlain: string | undefined;
  readonly #restore = (): void => {
    if (this.tty && !this.#stopped) this.#out.write(ansi.showCursor);
  };

  constructor(out: Out, options: LiveRegionOptions) {
    this.#out = out;
    this.#o = options;
    this.tty = options.tty ?? out.isTTY === true;
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    if (this.tty) {
      this.#out.write(ansi.hideCursor);
      process.once("exit", this.#restore);
      this.render();
      this.#timer = setInterval(() => this.render(), Math.round(1000 / (this.#o.fps ?? 10)));
    } else {
      this.#timer = setInterval(() => this.#plain(), this.#o.plainIntervalMs ?? 1000);
    }
    this.#timer.unref();
  }

  /** Redraws now (TTY); nothing otherwise. */
  render(): void {
    if (!this.tty || this.#stopped) return;
    this.#out.write(this.#paint(this.#o.frame()));
  }

  /** A line that stays: above the live block on a TTY, a plain line otherwise. */
  log(text: string): void {
    if (!this.tty || this.#stopped) {
      this.#out.write(`${text}\n`);
      return;
    }
    const clear = this.#clearText();
    this.#drawn = 0;
    this.#out.write(`${clear}${text}\n${this.#paint(this.#o.frame())}`);
  }

  /** Stops redrawing. `keep` (default true) leaves the last frame on screen; false erases it. */
  stop(keep = true): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.tty) {
      this.#out.write(
        keep ? `${this.#paint(this.#o.frame())}${ansi.showCursor}` : `${this.#clearText()}${ansi.showCursor}`,
      );
      process.off("exit", this.#restore);
    }
    this.#stopped = true;
  }

  #plain(): void {
    const line = this.#o.line?.();
    if (line === undefined || (this.#o.plainOnChange === true && line === this.#lastPlain)) return;
    this.#lastPlain = line;
    this.#out.write(`${line}\n`);
  }

  /** Moves to the top of the drawn block and clears every line of it. */
  #clearText(): string {
    if (this.#drawn === 0) return "";
    let s = ansi.up(this.#drawn);
    for (let i = 0; i < this.#drawn; i++) s += `${ansi.clearLine}\n`;
    return s + ansi.up(this.#drawn);
  }

  #paint(lines: readonly string[]): string {
    const width = Math.max(20, (this.#out.columns ?? 80) - 1);
    let s = this.#drawn > 0 ? ansi.up(this.#drawn) : "";
    for (const line of lines) s += `${ansi.clearLine}${truncate(line, width)}\n`;
    // A shorter frame than the last one: clear the leftover lines below it.
    for (let i = lines.length; i < this.#drawn; i++) s += `${ansi.clearLine}\n`;
    if (this.#drawn > lines.length) s += ansi.up(this.#drawn - lines.length);
    this.#drawn = lines.length;
    return s;
  }
}
