/**
 * One subject per client: `<prefix>.<token>`. The token is the clientId itself when it
 * is made of A-Z a-z 0-9 _ - (readable in `nats stream view`), else `=` + the clientId's
 * UTF-8 in base64url. `=` is outside the first set, so two clientIds never share a token.
 */

const PLAIN = /^[A-Za-z0-9_-]+$/;

export function subjectToken(clientId: string): string {
  return PLAIN.test(clientId) ? clientId : `=${Buffer.from(clientId, "utf8").toString("base64url")}`;
}

export function clientSubject(prefix: string, clientId: string): string {
  return `${prefix}.${subjectToken(clientId)}`;
}

/** Does the stream subject `filter` (with * and > wildcards) match the literal `subject`? */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const token = f[i];
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return f.length === s.length;
}

/**
 * The prefix under which every client subject is covered by one of the stream's
 * subjects: `P` for `P.>` or `P.*`; `fallback` for `>`. Undefined when none fits.
 */
export function prefixFromSubjects(subjects: readonly string[], fallback: string): string | undefined {
  for (const s of subjects) {
    if (s === ">") return fallback;
    const m = /^(.+)\.(>|\*)$/.exec(s);
    if (m !== null && m[1] !== undefined && !/[*>]/.test(m[1])) return m[1];
  }
  return undefined;
}
