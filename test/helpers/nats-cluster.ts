/** The 3-node cluster launcher lives beside `outlast demo --gateways`, which uses it too. */
export { NatsCluster, freePort, natsServerPath, natsSkipReason } from "../../src/cli/demo/nats-cluster.js";
export type { ClusterOptions, NatsNode } from "../../src/cli/demo/nats-cluster.js";
