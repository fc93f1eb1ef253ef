/**
 * A small seeded PRNG for the proxy's random choices (probability, jitter,
 * slicer sizes, random flaps), so a failing run replays from its seed.
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32.
 */

/** Returns a float in [0, 1). */
export type Random = () => number;

/** splitmix32 step: a good 32-bit mixer, used to spread seeds. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seed made from a base seed and parts (fault number, connection id, ...),
 * so each fault on each connection draws from its own stream and one stream
 * does not shift when another is used more or less.
 */
export function deriveSeed(seed: number, ...parts: readonly number[]): number {
  let h = mix32(seed >>> 0);
  for (const p of parts) h = mix32((h ^ (p >>> 0)) >>> 0);
  return h;
}

/** A seeded random source: the same seed gives the same sequence on every platform. */
export function createRandom(seed: number): Random {
  let a = mix32(seed >>> 0);
  let b = mix32(a);
  let c = mix32(b);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // warm up
  return next;
}

/** A fresh random 32-bit seed for when the caller gives none (printed so the run can replay). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
