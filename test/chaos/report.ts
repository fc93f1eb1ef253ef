/**
 * How a chaos run is reported: a block of text for the test output (seed first,
 * so a failure can be replayed) and a markdown table row for docs/reliability.md.
 */

import type { ChaosReport } from "./run-chaos.js";

function kinds(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

/** The run as text lines (printed by the test and the bench script). */
export function formatReport(r: ChaosReport, replay: string): string {
  const lines = [
    `chaos run "${r.name}": ${r.passed ? "PASSED" : "FAILED"}`,
    `  seed: ${r.seed} (replay: ${replay})`,
    `  messages: ${r.messagesPlanned} planned, ${r.stored} reported stored, ${r.messagesDelivered} delivered (${r.delivered} seqs, ${r.handlerCalls} handler calls) by ${r.clients} clients`,
    `  faults: ${r.faultsTotal} (${kinds(r.faultsByKind)})`,
    `  proxy applications: ${kinds(r.proxyApplied) || "none"}`,
    `  server processes: ${r.serverGenerations}; client reconnects (last process of each): ${kinds(r.clientReconnects) || "none"}; resends ${r.resends}`,
    `  lost ${r.lost}, duplicated ${r.duplicated}, reordered ${r.reordered}, gaps ${r.gaps}, corrupt ${r.corrupt}, send errors ${r.sendErrors}`,
    `  crash-window redeliveries skipped by the idempotent handler: ${r.crashRedeliveries}; delivered but not reported stored: ${r.unreported}`,
    `  elapsed: ${(r.elapsedMs / 1000).toFixed(1)} s`,
  ];
  for (const f of r.failures) lines.push(`  FAILURE: ${f}`);
  for (const k of r.knownIssues) lines.push(`  KNOWN BUG (not a delivery failure): ${k}`);
  for (const w of r.warnings.slice(0, 10)) lines.push(`  client warning: ${w}`);
  for (const [key, list] of Object.entries(r.samples)) lines.push(`  ${key}: ${list.join("; ")}`);
  return lines.join("\n");
}

export const TABLE_HEADER = [
  "| run | messages | faults by kind | lost | duplicated | reordered | time | reproduce |",
  "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
].join("\n");

/** One row of the docs/reliability.md table. */
export function tableRow(r: ChaosReport, command: string): string {
  const faults = `${r.faultsTotal}: ${kinds(r.faultsByKind)}`;
  const messages = r.messagesDelivered.toLocaleString("en-US");
  return `| ${r.name} (seed ${r.seed}) | ${messages} | ${faults} | ${r.lost} | ${r.duplicated} | ${r.reordered} | ${(r.elapsedMs / 1000).toFixed(1)} s | \`${command}\` |`;
}
