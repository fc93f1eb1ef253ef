/**
 * One 3-node JetStream cluster for a test file (started before its tests, stopped after),
 * and gateways on it. Where nats-server is missing, `skip` says why and nothing starts.
 */
import { after, before } from "node:test";
import { createGateway } from "../../src/gateway/index.js";
import type { Gateway } from "../../src/gateway/index.js";
import { NatsCluster, natsSkipReason } from "../helpers/nats-cluster.js";

export class SharedCluster {
  readonly skip: string | undefined = natsSkipReason();
  #cluster: NatsCluster | undefined;

  constructor(what: string) {
    if (this.skip !== undefined) process.stdout.write(`# skipping ${what}: ${this.skip}\n`);
    before(async () => {
      if (this.skip === undefined) this.#cluster = await NatsCluster.start();
    });
    after(async () => {
      await this.#cluster?.stop();
    });
  }

  get cluster(): NatsCluster {
    if (this.#cluster === undefined) throw new Error("the shared NATS cluster is not running");
    return this.#cluster;
  }

  async startGateway(stream: string, extra: Record<string, unknown> = {}): Promise<{ gateway: Gateway; port: number }> {
    const gateway = createGateway({ forward: { servers: this.cluster.urls, stream, ...extra } });
    const { port } = await gateway.listen({ host: "127.0.0.1", port: 0 });
    return { gateway, port };
  }
}
