/**
 * `outlast serve --credentials FILE`: which token each clientId must present.
 * The file is either lines of `clientId token` (blank lines and `#` comments
 * ignored) or a JSON object `{ "clientId": "token" }`. Tokens are compared in
 * constant time (SHA-256 of both, then crypto.timingSafeEqual on the equal-length
 * digests, so neither the content nor the length of a token leaks through timing).
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Authenticate } from "../server/index.js";

export type Credentials = ReadonlyMap<string, Buffer>;

/** A credentials file that cannot be used; its message names the file and the line. */
export class CredentialsError extends Error {
  override name = "CredentialsError";
}

function digest(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** Parses the text of a credentials file. Throws CredentialsError. */
export function parseCredentials(text: string, file: string): Credentials {
  const map = new Map<string, Buffer>();
  const add = (clientId: string, token: string, where: string): void => {
    if (clientId === "") throw new CredentialsError(`${where}: empty clientId`);
    if (token === "") throw new CredentialsError(`${where}: clientId ${JSON.stringify(clientId)} has no token`);
    if (map.has(clientId)) throw new CredentialsError(`${where}: clientId ${JSON.stringify(clientId)} is listed twice`);
    map.set(clientId, digest(Buffer.from(token, "utf8")));
  };
  if (text.trimStart().startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CredentialsError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new CredentialsError(`${file}: expected a JSON object {"clientId": "token"}`);
    for (const [clientId, token] of Object.entries(json)) {
      if (typeof token !== "string")
        throw new CredentialsError(`${file}: the token of ${JSON.stringify(clientId)} must be a string`);
      add(clientId, token, file);
    }
  } else {
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const m = /^(\S+)\s+(.+)$/.exec(line);
      if (m?.[1] === undefined || m[2] === undefined)
        throw new CredentialsError(`${file}:${i + 1}: expected "clientId token"`);
      add(m[1], m[2], `${file}:${i + 1}`);
    });
  }
  if (map.size === 0)
    throw new CredentialsError(`${file}: no credentials (expected "clientId token" lines or a JSON object)`);
  return map;
}

/** Reads and parses a credentials file. Rejects with the read error or a CredentialsError. */
export async function loadCredentials(file: string): Promise<Credentials> {
  return parseCredentials(await readFile(file, "utf8"), file);
}

const NOBODY = digest(Buffer.from("outlast: no such clientId"));

/** An `authenticate` that accepts a client only when its token matches the file's. */
export function credentialsAuthenticator(credentials: Credentials): Authenticate {
  return ({ clientId, token }) => {
    const expected = credentials.get(clientId);
    // Compare even for an unknown clientId, so its absence does not answer faster.
    const same = timingSafeEqual(expected ?? NOBODY, digest(token));
    return expected !== undefined && same ? clientId : false;
  };
}
