import { MemoryDedupState } from "../../src/server/memory-dedup-state.js";
import { dedupStateConformance } from "./dedup-state-conformance.js";

dedupStateConformance("MemoryDedupState", () => ({
  persistent: false,
  state: () => new MemoryDedupState(),
  dispose: () => Promise.resolve(),
}));
