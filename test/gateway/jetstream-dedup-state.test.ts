/**
 * The gateway's JetStreamDedupState passes the DedupState conformance suite against a real
 * 3-node JetStream cluster (R3 streams): the stream is the state, the batch handler's
 * exactly-once write makes a record durable, load() reads the mark through the leader.
 */
import { deleteStream } from "../helpers/nats-stream.js";
import { dedupStateConformance } from "../server/dedup-state-conformance.js";
import type { DedupState } from "../../src/server/dedup-state.js";
import { JetStreamDedupState } from "../../src/gateway/jetstream-dedup-state.js";
import { resolveGatewayOptions } from "../../src/gateway/options.js";
import { systemClock } from "../../src/errors/clock.js";
import { SharedCluster } from "./shared-cluster.js";

const shared = new SharedCluster("JetStreamDedupState conformance");

let streams = 0;

if (shared.skip === undefined)
  dedupStateConformance("JetStreamDedupState", () => {
    const stream = `CONFORM_${++streams}`;
    const servers = shared.cluster.urls;
    const forward = resolveGatewayOptions({ forward: { servers, stream } }).forward;
    return {
      persistent: true,
      state: () => new JetStreamDedupState(forward, { clock: systemClock, natsError: () => {}, natsStatus: () => {} }),
      async handled(state: DedupState, clientId: string, seqs: readonly number[]) {
        const data = new Uint8Array([1]);
        await (state as JetStreamDedupState).store(seqs.map((seq) => ({ clientId, seq, data, redelivery: false })));
      },
      dispose: () => deleteStream(servers, stream),
    };
  });
