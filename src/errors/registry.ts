/**
 * Application-specific rules: `registerClassifier(rule)` teaches classify()
 * about errors of your own (a device driver's "offline" error, a vendor SDK).
 * A registered rule is asked about every error object in a chain, outermost
 * first, before the built-in rules; the first that answers wins.
 */

import type { Verdict } from "./classification.js";

export interface ClassifierRule {
  /** Shown in the Classification's reason. */
  readonly name?: string;
  /** A verdict for this one error object (not its cause), or undefined to pass. Must not throw (a throw counts as a pass). */
  match(err: unknown): Verdict | undefined;
}

const rules: ClassifierRule[] = [];

/** Adds a rule; returns a function that removes it (idempotent). */
export function registerClassifier(rule: ClassifierRule | ((err: unknown) => Verdict | undefined)): () => void {
  const entry: ClassifierRule = typeof rule === "function" ? { name: rule.name || "custom", match: rule } : rule;
  if (typeof entry.match !== "function") throw new TypeError("registerClassifier: rule.match must be a function");
  rules.push(entry);
  return () => {
    const i = rules.indexOf(entry);
    if (i !== -1) rules.splice(i, 1);
  };
}

/** The registered rules, newest last. */
export function registeredRules(): readonly ClassifierRule[] {
  return rules;
}
