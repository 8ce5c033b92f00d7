import { createInbox } from 'nats';
import type { TestBusClient } from './bus-client.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON in tests */

/** Generous: a busy machine may take a while, and a round trip ends as soon as it is answered. */
const ROUND_TRIP_TIMEOUT_MS = 15_000;

/**
 * Sends `dea.status` to the agent `agentId` and waits for its answer. Once it is here,
 * everything that agent published before handling the request has been delivered to
 * `bus` too: NATS keeps the order of one connection's messages, and the agent handles
 * the messages of its connection in order. This is how a test knows that something did
 * *not* happen (a second `droplet.exited`, a reply from a stopped instance) without
 * waiting for a window to pass.
 *
 * It does not wait for work the agent has still to do (a process still exiting, a timer
 * not yet due): wait for that work's own sign first.
 */
export async function roundTrip(bus: TestBusClient, agentId: string, timeoutMs = ROUND_TRIP_TIMEOUT_MS): Promise<void> {
  const inbox = createInbox();
  const answers = bus.record(inbox);
  try {
    bus.publish('dea.status', {}, { reply: inbox });
    await answers.waitFor((m) => m.data?.id === agentId, timeoutMs);
  } finally {
    answers.stop();
  }
}

/**
 * Every reply the agent `agentId` sends to one request (`dea.find.droplet` answers once
 * per matching instance, possibly not at all): the request is followed by a round trip,
 * so when that is answered every reply to the request is in. Replies from other agents on
 * the same bus are left out.
 */
export async function requestAll<T = any>(
  bus: TestBusClient,
  agentId: string,
  subject: string,
  payload: unknown,
  timeoutMs = ROUND_TRIP_TIMEOUT_MS,
): Promise<T[]> {
  const inbox = createInbox();
  const replies = bus.record<T>(inbox);
  try {
    bus.publish(subject, payload, { reply: inbox });
    await roundTrip(bus, agentId, timeoutMs);
    return replies
      .all()
      .map((m) => m.data)
      .filter((d) => (d as { dea?: unknown } | null)?.dea === undefined || (d as { dea?: unknown }).dea === agentId);
  } finally {
    replies.stop();
  }
}
