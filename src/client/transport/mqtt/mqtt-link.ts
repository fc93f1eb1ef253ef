/**
 * The MQTT Link (transport/transport.ts): one connection to a broker through
 * MQTT.js, loaded with import() on first use. We open the socket (TCP, or TLS
 * verified by default) and hand it to a fresh MqttClient that never
 * reconnects and keeps nothing beyond this link: the backlog stays in the
 * outbox. Records go out as QoS 1 PUBLISHes (DUP set on a resend) carrying
 * their identity in MQTT 5 user properties (and in the opt-in envelope), at
 * most the broker's Receive Maximum unacknowledged; PUBACKs become the
 * client's cumulative acks (AckTracker). Dead links are found by receive
 * silence (heartbeat.ts, PINGREQ as the ping), besides MQTT's keepalive.
 */

import net from "node:net";
import tls from "node:tls";
import type { IClientOptions, IConnackPacket, IDisconnectPacket, MqttClient } from "mqtt";
import type { Timer } from "../../../errors/clock.js";
import { OutlastError } from "../../../errors/outlast-error.js";
import type { OutboxRecord } from "../../../outbox/outbox.js";
import { Heartbeat } from "../../heartbeat.js";
import type { ResolvedOptions } from "../../options.js";
import type { Endpoint } from "../../url.js";
import { serverNameFor } from "../../url.js";
import { AckTracker } from "../ack-tracker.js";
import type { Link, LinkEvents } from "../transport.js";
import { envelopeHeader } from "./envelope.js";
import { authRejected, isVersionRefusal, mqttReasonError } from "./mqtt-errors.js";
import { loadMqtt } from "./load-mqtt.js";
import { NoStore } from "./no-store.js";
import { WriteCoalescer } from "./write-coalescer.js";

/** MQTT's largest packet (268,435,455 bytes), and the packet ids in flight at most (1..65535). */
const MAX_PACKET_BYTES = 268_435_455;
const MAX_PACKET_IDS = 65_535;
/** PUBLISH bytes besides topic, properties and payload: fixed header (5), topic length (2), packet id (2), properties length (4). */
const PUBLISH_OVERHEAD_BYTES = 13;
/** After DISCONNECT, the broker has this long to close before we destroy the socket. */
const LINGER_MS = 1000;
const PINGREQ = Buffer.from([0xc0, 0x00]);
const noop = (): void => undefined;
/** PUBLISHes per write batch: ~20 KiB of 256 B messages, about a socket's high-water mark. */
const BATCH_MESSAGES = 64;

export type MqttPhase = "load" | "tcp" | "tls" | "mqtt";

/** The protocol versions that worked per broker, so "auto" falls back to 3.1.1 once per client and broker. */
export type VersionMemory = Map<string, 4 | 5>;

export class MqttLink implements Link {
  readonly #o: ResolvedOptions;
  readonly #events: LinkEvents;
  readonly #endpoint: Endpoint;
  readonly #clientId: string;
  readonly #versions: VersionMemory;
  readonly #acks = new AckTracker();
  #version: 4 | 5;
  #phase: MqttPhase = "load";
  #socket: net.Socket | undefined;
  /** What MQTT.js writes to: the socket, each corked batch of PUBLISHes as one write. */
  #stream: WriteCoalescer | undefined;
  #client: MqttClient | undefined;
  #connectTimer: Timer | undefined;
  #lingerTimer: Timer | undefined;
  #heartbeat: Heartbeat | undefined;
  #error: Error | undefined;
  #goodbye = false;
  #open = false;
  #closing = false;
  #closed = false;
  /** close() (DISCONNECT sent) or destroy() without an error: a link we ended on purpose reports no error of its own. */
  #endedByUs = false;
  /** Set for the v5 attempt a broker refused: the link retries once with 3.1.1 instead of closing. */
  #retryWith311 = false;
  maxInFlightMessages = MAX_PACKET_IDS;
  /** MQTT.js writes several small buffers per PUBLISH: batches stop at the socket's high-water mark (see pump). */
  readonly maxBatchMessages = BATCH_MESSAGES;
  maxRecordBytes = 0;

  constructor(endpoint: Endpoint, clientId: string, o: ResolvedOptions, events: LinkEvents, versions: VersionMemory) {
    this.#o = o;
    this.#events = events;
    this.#endpoint = endpoint;
    this.#clientId = clientId;
    this.#versions = versions;
    this.#version = o.mqtt.version === "3.1.1" ? 4 : o.mqtt.version === "5" ? 5 : (versions.get(endpoint.href) ?? 5);
    this.#connectTimer = o.clock.setTimeout(() => this.#connectTimedOut(), o.connectTimeoutMs);
    loadMqtt().then(
      (mqtt) => this.#start(mqtt.MqttClient),
      (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  }

  get isOpen(): boolean {
    return this.#open && !this.#closing;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get lastHeardMs(): number {
    return this.#heartbeat?.lastHeardMs ?? -Infinity;
  }

  get writableNeedDrain(): boolean {
    return (this.#socket?.writableNeedDrain ?? false) || (this.#stream?.writableNeedDrain ?? false);
  }

  /** The protocol version of this link (4 = 3.1.1), for tests and messages. */
  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  writeRecords(records: readonly OutboxRecord[], maybeSentUpToSeq: number): boolean {
    const client = this.#client;
    if (client === undefined || !this.isOpen) return false;
    const topic = this.#o.topic as string;
    const envelope = this.#o.mqtt.envelope;
    const v5 = this.#version === 5;
    const clientId = this.#clientId;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as OutboxRecord;
      const seq = r.seq;
      const data = Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length);
      const payload = envelope ? Buffer.concat([envelopeHeader(clientId, seq), data]) : data;
      const dup = seq <= maybeSentUpToSeq;
      this.#acks.written(seq);
      client.publish(
        topic,
        payload,
        v5
          ? {
              qos: 1,
              dup,
              properties: { userProperties: { "outlast-client-id": clientId, "outlast-seq": String(seq) } },
            }
          : { qos: 1, dup },
        (err) => this.#onPuback(seq, err),
      );
    }
    return !this.writableNeedDrain;
  }

  sayGoodbye(): void {
    if (this.#closed || this.#closing) return;
    const client = this.#client;
    if (client === undefined || !this.#open) {
      this.destroy();
      return;
    }
    this.#closing = true;
    this.#endedByUs = true;
    this.#stopTimers();
    client.end(false, { reasonCode: 0 }, () => this.#socket?.destroy());
    this.#linger();
  }

  destroy(err?: Error): void {
    if (this.#closed) return;
    if (err !== undefined) this.#error ??= err;
    else this.#endedByUs = true;
    this.#closing = true;
    this.#stopTimers();
    this.#endClient();
    if (this.#socket === undefined) queueMicrotask(() => this.#finish());
    else this.#socket.destroy();
  }

  // ---- opening ----

  #start(MqttClientClass: typeof MqttClient): void {
    if (this.#closing) return;
    const { host, port, secure } = this.#endpoint;
    let socket: net.Socket;
    if (secure) {
      const servername = serverNameFor(host);
      this.#phase = "tcp";
      socket = tls.connect({ ...(servername === undefined ? {} : { servername }), ...this.#o.tls, host, port });
      socket.once("connect", () => (this.#phase = "tls"));
      socket.once("secureConnect", () => (this.#phase = "mqtt"));
    } else {
      this.#phase = "tcp";
      socket = net.connect({ host, port });
      socket.once("connect", () => (this.#phase = "mqtt"));
    }
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", () => this.#heartbeat?.heard());
    socket.on("drain", () => this.#events.onDrain());
    socket.on("error", (err: Error) => {
      this.#error ??= err;
    });
    socket.on("close", () => this.#onSocketClose());

    const o = this.#o;
    const options: IClientOptions = {
      clientId: this.#clientId,
      protocolVersion: this.#version,
      clean: true,
      reconnectPeriod: 0,
      // Our connectTimeoutMs timer bounds the opening; MQTT.js's own stays out of the way.
      connectTimeout: 2 ** 31 - 1,
      keepalive: Math.max(1, Math.ceil(o.heartbeatTimeoutMs / 1000)),
      resubscribe: false,
      queueQoSZero: false,
      reschedulePings: false, // our heartbeat finds dead links; no timer reset per PUBLISH
      log: noop, // MQTT.js's debug() calls cost ~3% of a busy publisher even when disabled
      outgoingStore: new NoStore(), // the records are in the outbox; this MqttClient never reconnects
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: Buffer.from(o.password) }),
    };
    const stream = new WriteCoalescer(socket);
    this.#stream = stream;
    stream.on("drain", () => this.#events.onDrain());
    const client = new MqttClientClass(() => stream, options);
    this.#client = client;
    client.on("connect", (connack) => this.#onConnack(connack));
    client.on("error", (err) => this.#onClientError(err));
    client.on("disconnect", (packet) => this.#onDisconnect(packet));
  }

  #onConnack(connack: IConnackPacket): void {
    if (this.#closing) return;
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#versions.set(this.#endpoint.href, this.#version);
    const props = this.#version === 5 ? connack.properties : undefined;
    this.maxInFlightMessages = Math.min(MAX_PACKET_IDS, props?.receiveMaximum ?? MAX_PACKET_IDS);
    this.maxRecordBytes = (props?.maximumPacketSize ?? MAX_PACKET_BYTES) - this.#overheadBytes();
    this.#open = true;
    this.#heartbeat = new Heartbeat({
      clock: this.#o.clock,
      intervalMs: this.#o.heartbeatIntervalMs,
      timeoutMs: this.#o.heartbeatTimeoutMs,
      random: this.#o.random,
      ping: () => {
        const socket = this.#socket;
        if (socket !== undefined && socket.writable && !this.#closing) socket.write(PINGREQ);
      },
      onTimeout: (err) => this.destroy(err),
    });
    this.#events.onOpen(0);
  }

  /** PUBLISH bytes besides the message data (topic, user properties, envelope). */
  #overheadBytes(): number {
    const topic = Buffer.byteLength(this.#o.topic ?? "");
    const id = Buffer.byteLength(this.#clientId);
    // Two user properties: 1 + 2 + name + 2 + value each; the seq is at most 16 digits.
    const props = this.#version === 5 ? 2 * 5 + "outlast-client-id".length + id + "outlast-seq".length + 16 : 0;
    const envelope = this.#o.mqtt.envelope ? envelopeHeader(this.#clientId, Number.MAX_SAFE_INTEGER).length : 0;
    return PUBLISH_OVERHEAD_BYTES + topic + props + envelope;
  }

  #onPuback(seq: number, err: Error | undefined | null): void {
    if (this.#closed) return;
    if (err) {
      // MQTT.js fails every publish still waiting when the link ends ("Connection closed", from
      // inside its cleanup): the link's end is what counts, and calling back into MQTT.js from
      // there breaks its loop. A refused PUBACK (MQTT 5 reason code) ends the link, a turn later;
      // the record stays in the outbox and is sent again on the next link.
      const reason = mqttReasonError(err);
      if (reason === undefined || this.#closing) return;
      const why = authRejected(reason, this.#endpoint.href) ?? reason;
      this.#error ??= why;
      setImmediate(() => this.destroy(why));
      return;
    }
    const upTo = this.#acks.ack(seq);
    if (upTo !== undefined) this.#events.onAck(upTo, 0);
  }

  #onClientError(err: Error): void {
    const reason = mqttReasonError(err);
    if (reason !== undefined && !this.#open && this.#o.mqtt.version === "auto" && this.#version === 5) {
      if (isVersionRefusal(reason)) {
        this.#retryWith311 = true; // the broker speaks 3.1.1 only: try again on a new socket
        return;
      }
    }
    const auth = reason === undefined ? undefined : authRejected(reason, this.#endpoint.href);
    this.#error ??= auth ?? reason ?? err;
    this.#socket?.destroy();
  }

  /** MQTT 5 DISCONNECT from the broker, with its reason. */
  #onDisconnect(packet: IDisconnectPacket): void {
    const rc = packet.reasonCode ?? 0;
    if (rc === 0) this.#goodbye = true;
    else this.#error ??= mqttReasonError(rc, `the broker disconnected`);
  }

  #connectTimedOut(): void {
    this.#connectTimer = undefined;
    const { connectTimeoutMs } = this.#o;
    const what = { load: "loading MQTT.js", tcp: "TCP connect", tls: "TLS handshake", mqtt: "MQTT CONNECT/CONNACK" }[
      this.#phase
    ];
    this.destroy(
      new OutlastError(
        "OUTLAST_CONNECT_TIMEOUT",
        `${what} did not finish within connectTimeoutMs (${connectTimeoutMs} ms)`,
        {
          details: { connectTimeoutMs, phase: this.#phase },
        },
      ),
    );
  }

  // ---- closing ----

  #onSocketClose(): void {
    if (this.#retryWith311 && !this.#closing) {
      this.#retryWith311 = false;
      this.#version = 4;
      this.#endClient();
      this.#client = undefined;
      this.#socket = undefined;
      this.#stream = undefined;
      void loadMqtt().then((mqtt) => this.#start(mqtt.MqttClient));
      return;
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#stopTimers();
    if (this.#lingerTimer !== undefined) this.#o.clock.clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const wasOpen = this.#open;
    this.#open = false;
    this.#endClient();
    let err = this.#error;
    if (err === undefined && !this.#goodbye && !this.#endedByUs) {
      // A FIN without DISCONNECT: a broker crash or restart, a proxy or NAT box closing.
      err = new OutlastError(
        "OUTLAST_CONNECTION_CLOSED",
        `the MQTT broker at ${this.#endpoint.href} closed the connection ${wasOpen ? "without DISCONNECT" : "before CONNACK"}`,
        { details: { link: wasOpen ? "open" : "connecting" } },
      );
    }
    this.#events.onClose(err, this.#goodbye);
  }

  /** Stops MQTT.js (idempotent; it never reconnects, and its socket is ours to close). */
  #endClient(): void {
    const client = this.#client;
    if (client === undefined || client.disconnecting || client.disconnected) return;
    try {
      client.end(true);
    } catch {
      // already ending
    }
  }

  #linger(): void {
    if (this.#lingerTimer !== undefined || this.#closed) return;
    this.#lingerTimer = this.#o.clock.setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#socket?.destroy();
    }, LINGER_MS);
  }

  #stopTimers(): void {
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
  }
}
