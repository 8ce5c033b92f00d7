/** The agent's own %CPU between successive reads (what vcap-common took from ps). */
export function processCpuMeter(): () => number {
  let last = process.cpuUsage();
  let lastAt = performance.now();
  return () => {
    const now = performance.now();
    const usage = process.cpuUsage(last);
    const elapsedMs = now - lastAt;
    last = process.cpuUsage();
    lastAt = now;
    if (elapsedMs <= 0) return 0;
    return Math.round(((usage.user + usage.system) / 1000 / elapsedMs) * 1000) / 10;
  };
}
