import { describe, expect, it } from 'vitest';
import { parseUsageHistory, usageHistoryText } from '../../../src/snapshot/index.js';

const ID_A = 'a'.repeat(32);
const ID_B = 'b'.repeat(32);
const sample = (time: number, cpu: number) => ({ time, cpu, memBytes: 1000 + time, diskBytes: 2000 + time });

describe('the usage history file', () => {
  it('reads back every instance\'s samples, oldest first, and leaves out instances without any', () => {
    const text = usageHistoryText(
      [
        { localId: ID_A, samples: [sample(1, 0.5), sample(2, 0.25)] },
        { localId: ID_B, samples: [] },
      ],
      9,
    );
    const history = parseUsageHistory(text);
    expect(history).not.toBeNull();
    expect([...history!.keys()]).toEqual([ID_A]);
    expect(history!.get(ID_A)).toEqual([sample(1, 0.5), sample(2, 0.25)]);
  });

  it('keeps four decimals of CPU and drops the container details', () => {
    const history = parseUsageHistory(usageHistoryText([{ localId: ID_A, samples: [{ ...sample(1, 0.123456), container: { memory: 1 } as never }] }], 1));
    expect(history!.get(ID_A)).toEqual([{ time: 1, cpu: 0.1235, memBytes: 1001, diskBytes: 2001 }]);
  });

  it.each([
    ['not JSON', '{'],
    ['another version', JSON.stringify({ version: 2, writtenAt: 1, instances: {} })],
    ['a name that is not a local id', JSON.stringify({ version: 1, writtenAt: 1, instances: { '../x': [[1, 0, 0, 0]] } })],
    ['a negative figure', JSON.stringify({ version: 1, writtenAt: 1, instances: { [ID_A]: [[1, -1, 0, 0]] } })],
    ['a row of the wrong shape', JSON.stringify({ version: 1, writtenAt: 1, instances: { [ID_A]: [[1, 0, 0]] } })],
  ])('is ignored when it is %s', (_what, text) => {
    expect(parseUsageHistory(text)).toBeNull();
  });
});
