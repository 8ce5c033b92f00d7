import type { BusMessage } from '../bus/types.js';
import { ExitDescriptions } from '../errors.js';
import { Instance } from '../instance/instance.js';
import { capacityOf, shortfall } from '../instance/resources.js';
import { ROUTABLE } from '../instance/states.js';
import * as P from '../protocol/index.js';
import type { AgentContext } from './context.js';

/**
 * One function per subscribed subject: parse through the protocol module, then act
 * through the lifecycle, router and reporter. Errors are caught by the caller (guard).
 */
export function handleStart(ctx: AgentContext, msg: BusMessage): void {
  const spec = P.parseStart(msg.data);
  if (ctx.shuttingDown()) {
    ctx.logger.warn({ event: 'dea.start.refused', app_id: spec.applicationId, why: 'shutting_down' }, 'shutting down: start ignored');
    return;
  }
  if (ctx.evacuating()) {
    // The controller was told (dea.shutdown) and will place it elsewhere; nothing is reserved.
    ctx.logger.warn({ event: 'dea.start.refused', app_id: spec.applicationId, why: 'evacuating' }, 'evacuating: start ignored');
    return;
  }
  const id = ctx.ids.hex32();
  const inst = new Instance(
    { instanceId: id, privateInstanceId: ctx.ids.hex32() + ctx.ids.hex32(), spec, nowMs: ctx.clock.now() },
    [ctx.onTransition],
  );
  ctx.registry.add(inst);
  const short = shortfall(capacityOf(ctx.config.resources), ctx.registry, spec.limits, inst);
  if (short !== null) {
    ctx.lifecycle.refuse(inst, short === 'disk' ? ExitDescriptions.notEnoughDisk : ExitDescriptions.notEnoughMemory);
    return;
  }
  ctx.reporter.advertiseSoon();
  void ctx.lifecycle.start(inst);
}

export function handleStop(ctx: AgentContext, msg: BusMessage): void {
  const filter = P.parseStop(msg.data);
  for (const inst of ctx.registry.forApp(filter.droplet)) {
    if (P.matchesFilter(filter, inst)) void ctx.lifecycle.stop(inst);
  }
}

/** New URIs are registered, dropped ones unregistered; a new version re-keys (§3.3). */
export function handleUpdate(ctx: AgentContext, msg: BusMessage): void {
  const req = P.parseUpdate(msg.data);
  let touched = 0;
  let changed = 0;
  for (const inst of ctx.registry.forApp(req.droplet)) {
    if (!ROUTABLE.has(inst.state)) continue;
    touched++;
    const added = req.uris.filter((u) => !inst.uris.includes(u));
    const removed = inst.uris.filter((u) => !req.uris.includes(u));
    if (added.length > 0) ctx.router.register(inst, added);
    if (removed.length > 0) ctx.router.unregister(inst, removed);
    inst.uris = [...req.uris];
    if (req.version !== inst.version) {
      inst.version = req.version;
      ctx.registry.rekey(inst, ctx.ids.hex32());
      changed++;
    }
  }
  if (touched > 0 && changed === touched) ctx.reporter.heartbeat();
}

export function handleFind(ctx: AgentContext, msg: BusMessage): void {
  const req = P.parseFind(msg.data);
  if (!msg.reply) return;
  const nowMs = ctx.clock.now();
  for (const inst of ctx.registry.forApp(req.droplet)) {
    if (!P.matchesFilter(req, inst)) continue;
    const reply = P.findReply({ deaId: ctx.id, host: ctx.config.localIp }, inst, {
      includeStats: req.includeStats,
      hasPath: req.hasPath,
      nowMs,
      // Signed per reply: the URL names this instance (protocol §11.5).
      fileUri: req.hasPath ? (ctx.fileUri?.(inst.instanceId, req.path) ?? null) : null,
    });
    ctx.bus.publish(msg.reply, reply);
  }
}

export function handleStatus(ctx: AgentContext, msg: BusMessage): void {
  if (!msg.reply) return;
  let usedBytes = 0;
  for (const inst of ctx.registry.all()) usedBytes += inst.usage?.memBytes ?? 0;
  ctx.bus.publish(msg.reply, ctx.reporter.status(Math.floor(usedBytes / (1024 * 1024))));
}

export function handleDiscover(ctx: AgentContext, msg: BusMessage): void {
  const info = ctx.component();
  if (!msg.reply || info === null) return;
  ctx.bus.publish(msg.reply, P.componentDiscover({ ...info, nowMs: ctx.clock.now() }));
}
