/**
 * Safe, lazy reads of one error-like value: every property access is guarded
 * (throwing getters, Proxies, revoked Proxies), strings are cut to a bounded
 * length, and nothing is read until a rule asks for it.
 */

/** Longest message we look at: rules match prefixes and short phrases; a 5 MB message costs nothing more. */
const MAX_TEXT = 2048;

export function isObjectLike(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/** `value[key]`, or undefined when reading it throws. */
export function safeGet(value: object, key: PropertyKey): unknown {
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

function safeHas(value: object, key: PropertyKey): boolean {
  try {
    return key in value;
  } catch {
    return false;
  }
}

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return value.length > MAX_TEXT ? value.slice(0, MAX_TEXT) : value;
}

const UNREAD = Symbol("unread");

/** One node of a cause chain, read lazily and safely. */
export class ErrorNode {
  readonly value: object;
  #code: unknown = UNREAD;
  #name: unknown = UNREAD;
  #message: unknown = UNREAD;
  #errno: unknown = UNREAD;
  #syscall: unknown = UNREAD;

  constructor(value: object) {
    this.value = value;
  }

  /** `code` as given: a string, a number (DOMException, gRPC) or anything else. */
  get rawCode(): unknown {
    if (this.#code === UNREAD) this.#code = safeGet(this.value, "code");
    return this.#code;
  }

  get code(): string | undefined {
    const c = this.rawCode;
    return typeof c === "string" ? text(c) : undefined;
  }

  get name(): string | undefined {
    if (this.#name === UNREAD) this.#name = text(safeGet(this.value, "name"));
    return this.#name as string | undefined;
  }

  get message(): string {
    if (this.#message === UNREAD) this.#message = text(safeGet(this.value, "message")) ?? "";
    return this.#message as string;
  }

  /** A number (Node: negative libuv errno) or a string (node-fetch copies the code here). */
  get errno(): unknown {
    if (this.#errno === UNREAD) this.#errno = safeGet(this.value, "errno");
    return this.#errno;
  }

  get syscall(): string | undefined {
    if (this.#syscall === UNREAD) this.#syscall = text(safeGet(this.value, "syscall"));
    return this.#syscall as string | undefined;
  }

  get(key: string): unknown {
    return safeGet(this.value, key);
  }

  getText(key: string): string | undefined {
    return text(safeGet(this.value, key));
  }

  /** The `cause`, when the property exists (a cause of `undefined` counts as none). */
  cause(): unknown {
    return safeHas(this.value, "cause") ? safeGet(this.value, "cause") : undefined;
  }

  /**
   * The inner errors of an AggregateError-like value (an own `errors` array),
   * or undefined. Arrays only: an `errors` field of another shape is data, not attempts.
   */
  errors(): readonly unknown[] | undefined {
    const errors = safeGet(this.value, "errors");
    try {
      return Array.isArray(errors) && errors.length > 0 ? (errors as unknown[]) : undefined;
    } catch {
      return undefined; // Array.isArray throws on a revoked Proxy
    }
  }
}
