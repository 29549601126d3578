// The "reconnecting in N s" countdown of the status banner.

/**
 * Whole seconds until the scheduled reconnect at `retryAt` (ms since epoch),
 * rounded up; null when there is none or it is due within a second (then
 * the banner just says it is reconnecting).
 */
export function retrySeconds(retryAt: number | null, now: number): number | null {
  if (retryAt === null) return null;
  const left = retryAt - now;
  return left >= 1000 ? Math.ceil(left / 1000) : null;
}
