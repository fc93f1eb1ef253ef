/**
 * The chaos messages' payload: "<index>:" then filler bytes derived from the index,
 * so the server fixture can tell a message that arrived intact from one whose
 * bytes were changed on the way (corruption faults).
 */

const FILLER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function makePayload(index: number, sizeBytes: number): string {
  const head = `${index}:`;
  let body = "";
  for (let i = head.length; i < sizeBytes; i++) body += FILLER[(index + i) % FILLER.length];
  return head + body;
}

/** The index of an intact payload, or -1 when the bytes are not what makePayload(index, size) gives. */
export function checkPayload(data: Uint8Array): number {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  const colon = text.indexOf(":");
  if (colon <= 0) return -1;
  const index = Number(text.slice(0, colon));
  if (!Number.isSafeInteger(index) || index < 0) return -1;
  return makePayload(index, text.length) === text ? index : -1;
}
