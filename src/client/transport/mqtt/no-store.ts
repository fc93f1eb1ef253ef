/**
 * MQTT.js's outgoing store for an MqttLink: keeps nothing. MQTT.js stores a
 * copy of every QoS 1 PUBLISH until its PUBACK so that it can resend it when
 * the same MqttClient reconnects; ours never reconnects (a lost link is a new
 * MqttLink, and the records are in the outbox), so the copies were only work:
 * a Map insert and delete per message, and memory for every message in flight.
 * `del` answers with the id alone: MQTT.js passes that packet to the publish
 * callback, which reads nothing of it.
 */

import { Readable } from "node:stream";
import type { IStore, Packet } from "mqtt";

type DoneCallback = (err?: Error) => void;
type PacketCallback = (err?: Error, packet?: Packet) => void;

export class NoStore implements IStore {
  put(_packet: Packet, cb: DoneCallback): this {
    cb();
    return this;
  }

  /** Nothing to resend on (re)connect: MQTT.js reads an empty stream. */
  createStream(): ReturnType<IStore["createStream"]> {
    const empty = new Readable({ objectMode: true, read: () => undefined });
    empty.push(null);
    // IStore names readable-stream's Readable (not loaded here: MQTT.js is imported lazily); MQTT.js
    // uses only what node's has too (read, once('readable'), on('error'), destroy).
    return empty as unknown as ReturnType<IStore["createStream"]>;
  }

  del(packet: Pick<Packet, "messageId">, cb: PacketCallback): this {
    cb(undefined, packet as Packet);
    return this;
  }

  get(_packet: Pick<Packet, "messageId">, cb: PacketCallback): this {
    cb(new Error("missing packet"));
    return this;
  }

  close(cb: DoneCallback): void {
    cb();
  }
}
