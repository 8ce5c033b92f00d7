/** Ruby's Time#to_s in UTC ("2016-01-21 10:15:00 +0000"), which DEA peers display. */
export function rubyTimeString(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2016-01-21T10:15:00.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000`;
}
