import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

/** Page size and USER_HZ, needed to turn /proc/<pid>/stat pages and ticks into bytes and seconds. */
export interface KernelConstants {
  readonly pageSize: number;
  readonly clkTck: number;
}

/**
 * x86_64 Linux: 4 KiB pages, and USER_HZ is 100 on every mainstream architecture (the
 * kernel scales its own HZ to it for /proc). Used when the auxv probe is unavailable.
 */
export const DEFAULT_KERNEL_CONSTANTS: KernelConstants = { pageSize: 4096, clkTck: 100 };

const AT_PAGESZ = 6;
const AT_CLKTCK = 17;
const WORD_32_ARCHS = new Set(['arm', 'ia32', 'mips', 'mipsel', 'ppc', 's390']);

let probed: KernelConstants | undefined;

/**
 * The kernel's own figures, read once from /proc/self/auxv (what sysconf(_SC_PAGESIZE)
 * and sysconf(_SC_CLK_TCK) return in C): no `getconf` child, no per-tick cost.
 */
export function kernelConstants(): KernelConstants {
  if (probed === undefined) {
    let aux: Partial<KernelConstants> = {};
    try {
      aux = parseAuxv(readFileSync('/proc/self/auxv'));
    } catch {
      // not Linux, or /proc not mounted: keep the defaults
    }
    probed = { ...DEFAULT_KERNEL_CONSTANTS, ...aux };
  }
  return probed;
}

/** The auxiliary vector: (type, value) pairs of native words, ended by type 0. */
export function parseAuxv(
  buf: Buffer,
  wordBytes = WORD_32_ARCHS.has(process.arch) ? 4 : 8,
  littleEndian = endianness() === 'LE',
): Partial<KernelConstants> {
  const word = (at: number): number => {
    if (wordBytes === 4) return littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
    return Number(littleEndian ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
  };
  const out: { pageSize?: number; clkTck?: number } = {};
  for (let at = 0; at + 2 * wordBytes <= buf.length; at += 2 * wordBytes) {
    const type = word(at);
    if (type === 0) break;
    const value = word(at + wordBytes);
    if (type === AT_PAGESZ && value > 0) out.pageSize = value;
    if (type === AT_CLKTCK && value > 0) out.clkTck = value;
  }
  return out;
}
