/**
 * MQTT.js, loaded with import() the first time an mqtt:// link opens, so the
 * plain client and `outlast/errors` never load it.
 */

import type * as Mqtt from "mqtt";

type MqttModule = typeof Mqtt;

let loading: Promise<MqttModule> | undefined;
let loaded: MqttModule | undefined;

export function loadMqtt(): Promise<MqttModule> {
  loading ??= import("mqtt").then(
    (m) => (loaded = m),
    (err: unknown) => {
      loading = undefined;
      throw new Error(
        "mqtt:// needs the `mqtt` package (MQTT.js), which could not be loaded; reinstall outlast's dependencies",
        { cause: err },
      );
    },
  );
  return loading;
}

/** The module once loadMqtt() resolved (every MqttLink callback runs after that). */
export function loadedMqtt(): MqttModule {
  if (loaded === undefined) throw new Error("outlast client bug: MQTT.js used before it was loaded");
  return loaded;
}
