/**
 * Time on the wire. The agent keeps ms since the epoch; peers expect epoch seconds
 * (float for state timestamps, integer for crash timestamps) and Ruby's `Time#to_s`.
 */

/** Float epoch seconds, e.g. 1453370000.123. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** Whole epoch seconds. */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS +0000` in UTC: Ruby's Time#to_s, which CC and operators parse. */
export function rubyTime(ms: number): string {
  const d = new Date(ms);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${date} ${time} +0000`;
}

/** vcap-common's uptime, `<d>d:<h>h:<m>m:<s>s`; a clock step backwards reads as 0. */
export function uptimeString(fromMs: number, toMs: number): string {
  const secs = Math.max(0, wholeSeconds(toMs - fromMs));
  const days = Math.floor(secs / 86400);
  const hours = Math.floor((secs % 86400) / 3600);
  const minutes = Math.floor((secs % 3600) / 60);
  return `${days}d:${hours}h:${minutes}m:${secs % 60}s`;
}
