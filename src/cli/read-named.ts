/** Reads a file a flag names; a failure says which flag and which file ("cannot read --tls-ca ./ca.pem: ENOENT ..."). */

import { readFile } from "node:fs/promises";
import { oneLine } from "./config.js";

/** The bytes of `file`, named by the flag `flag` (or its OUTLAST_* variable) in the error. */
export async function readNamed(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${flag} ${file}: ${oneLine(err)}`, { cause: err });
  }
}
