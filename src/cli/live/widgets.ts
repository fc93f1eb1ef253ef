/** Small text widgets for progress output: a bar, counts, rates, durations, sizes. */

/** A progress bar `width` cells wide for `fraction` in [0, 1], with eighth-cell precision. */
export function progressBar(fraction: number, width: number, unicode = true): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  if (!unicode) {
    const full = Math.round(f * width);
    return `${"#".repeat(full)}${"-".repeat(width - full)}`;
  }
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  const partial = rest === 0 ? "" : (["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][rest] ?? "");
  return `${"█".repeat(full)}${partial}${"░".repeat(width - full - (partial === "" ? 0 : 1))}`;
}

/** 12345 -> "12,345". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** (1, "message") -> "1 message"; (1204, "message") -> "1,204 messages". */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(n)} ${Math.round(n) === 1 ? noun : plural}`;
}

/** Milliseconds -> "850 ms", "4.2 s", "3m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d ${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/** Bytes -> "512 B", "4.0 KiB", "1.5 MiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u] ?? ""}`;
}

/** A rate over a sliding window of samples (count at time), for "msg/s". */
export class RateMeter {
  readonly #samples: { atMs: number; count: number }[] = [];
  constructor(readonly windowMs = 2000) {}

  /** Records the running total `count` at `atMs`; returns the rate per second over the window. */
  update(atMs: number, count: number): number {
    this.#samples.push({ atMs, count });
    while (this.#samples.length > 2 && (this.#samples[1]?.atMs ?? atMs) <= atMs - this.windowMs) this.#samples.shift();
    const first = this.#samples[0];
    if (first === undefined || atMs - first.atMs <= 0) return 0;
    return ((count - first.count) * 1000) / (atMs - first.atMs);
  }
}

/** `{ a: 2, b: 1 }` -> "a x 2 · b x 1" (largest first); `empty` when there is nothing. */
export function formatTally(tally: Readonly<Record<string, number>>, empty = "none", separator = " · "): string {
  const entries = Object.entries(tally)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? empty : entries.map(([k, n]) => `${k} x ${n}`).join(separator);
}
