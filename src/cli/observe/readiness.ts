/**
 * What `/readyz` answers: ready when every named check passes. `serve` sets
 * "listening" and "state"; a gateway (serve --forward) adds its own check (is the
 * stream reachable?) with `set`, and removes it with `delete`.
 */

export interface CheckResult {
  readonly ok: boolean;
  /** For people: why it is not ready ("state directory ./s is locked by pid 42"). */
  readonly detail: string;
}

export type Check = () => CheckResult | Promise<CheckResult>;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: readonly (CheckResult & { readonly name: string })[];
}

export class Readiness {
  readonly #checks = new Map<string, Check>();

  /** Adds or replaces the check `name`. */
  set(name: string, check: Check): void {
    this.#checks.set(name, check);
  }

  /** Sets `name` to a fixed answer. */
  mark(name: string, ok: boolean, detail: string): void {
    this.#checks.set(name, () => ({ ok, detail }));
  }

  delete(name: string): void {
    this.#checks.delete(name);
  }

  /** Runs every check (a check that throws or takes longer than `timeoutMs` fails). */
  async report(timeoutMs = 2000): Promise<ReadinessReport> {
    const checks = await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const result = await Promise.race([
            Promise.resolve().then(check),
            new Promise<CheckResult>((resolve) => {
              timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
            }),
          ]);
          return { name, ...result };
        } catch (err) {
          return { name, ok: false, detail: err instanceof Error ? err.message : String(err) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ready: checks.length > 0 && checks.every((c) => c.ok), checks };
  }
}
