import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEA_BIN } from '../../support/agent-process.js';

const UNIT = new URL('../../../config/dea.service', import.meta.url).pathname;
const PLACEHOLDER = '/opt/dea-agent/bin/dea';
const dir = mkdtempSync(join(tmpdir(), 'dea-unit-'));
// systemd-analyze verify touches this marker (on a machine without systemd as PID 1,
// nothing else makes it): remove it again unless it was there before.
const UNITS_LOAD = '/run/systemd/systemd-units-load';
const hadUnitsLoad = existsSync(UNITS_LOAD);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (!hadUnitsLoad) rmSync(UNITS_LOAD, { force: true });
});

/**
 * `systemd-analyze verify` on a copy named dea.service whose ExecStart names this
 * checkout's bin/dea (verify checks that the program exists). It exits 0 even for unknown
 * keys and bad values, so the lines it prints about the unit are the verdict.
 */
function verify(text: string): { status: number | null; complaints: string[] } {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('systemd-analyze is missing: run scripts/setup.sh (it installs the Debian package systemd)');
  const copy = join(dir, 'dea.service');
  writeFileSync(copy, text);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
  const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('dea.service'));
  return { status: r.status, complaints };
}

const unit = readFileSync(UNIT, 'utf8');
/** Every `Key=value` of the unit (the last one wins, as in systemd for these keys). */
const settings = new Map(
  unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
);

describe('config/dea.service', () => {
  it('passes systemd-analyze verify with its ExecStart pointed at this checkout', () => {
    expect(unit).toContain(`ExecStart=${PLACEHOLDER} `);
    const { status, complaints } = verify(unit.replace(PLACEHOLDER, DEA_BIN));
    expect(complaints).toEqual([]);
    expect(status).toBe(0);
  });

  it('would be caught by the check with a mistake in it', () => {
    const { complaints } = verify(unit.replace(PLACEHOLDER, DEA_BIN).replace('KillMode=process', 'KilMode=process'));
    expect(complaints.join('\n')).toMatch(/Unknown key .KilMode./);
  });

  it('is a notify service whose helper may speak, that leaves instances running and outwaits the agent', () => {
    expect(settings.get('Type')).toBe('notify');
    expect(settings.get('NotifyAccess')).toBe('all');
    expect(settings.get('KillMode')).toBe('process');
    expect(settings.get('Restart')).toBe('on-failure');
    // The agent's own shutdown deadline is 60 s (src/main.ts).
    expect(Number(settings.get('TimeoutStopSec'))).toBeGreaterThan(60);
    expect(Number(settings.get('WatchdogSec'))).toBeGreaterThan(0);
    // Nothing that gives the unit a mount namespace of its own (see the unit's comments).
    for (const key of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ReadOnlyPaths', 'PrivateMounts']) {
      expect(settings.has(key), key).toBe(false);
    }
  });
});
