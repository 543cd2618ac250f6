import type { WatchEventsCommand } from '../../domain/commands.js';
import { invalidArgument } from '../../domain/errors.js';
import { EVENT_TYPES, MAX_CURSOR_PART, parseCursor, type EventType } from '../../domain/job-events.js';
import type { Principal } from '../../domain/principal.js';
import { MAX_WATCHED_JOB_IDS, validateLabels, Violations } from '../../domain/validation.js';
import { readableJob } from '../job-queries.js';
import type { ServiceDependencies } from '../provenance-service.js';
import { viewerOf } from '../views.js';
import { watchedLineageTooLarge, type EventFilter, type StartAt, type Subscription, type SubscriptionSlot } from './event-hub.js';

/**
 * WatchEvents: a subscription to the events of the jobs the caller may read
 * that pass the request's filters, from where it asks to start. A caller
 * holding its most subscriptions is refused before anything else is done.
 */
export async function watchEvents(deps: ServiceDependencies, principal: Principal, command: WatchEventsCommand): Promise<Subscription> {
  const slot = deps.hub.reserve(principal);
  try {
    return await openSubscription(deps, principal, command, slot);
  } catch (error) {
    slot.release();
    throw error;
  }
}

async function openSubscription(deps: ServiceDependencies, principal: Principal, command: WatchEventsCommand, slot: SubscriptionSlot): Promise<Subscription> {
  const v = new Violations();
  if (command.jobIds.length > MAX_WATCHED_JOB_IDS) v.add('job_ids', `at most ${MAX_WATCHED_JOB_IDS} job ids; got ${command.jobIds.length}`);
  else command.jobIds.forEach((id, i) => v.jobId(`job_ids[${i}]`, id, true));
  v.jobId('lineage_of', command.lineageOf, false);
  command.eventTypes.forEach((type, i) => {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) v.add(`event_types[${i}]`, `unknown event type ${type}; known: ${EVENT_TYPES.join(', ')}`);
  });
  validateLabels(v, command.labels);
  if (command.startPosition === 'INVALID') v.add('start_position', 'unknown start position');
  if (command.afterCursor !== undefined && !parseCursor(command.afterCursor)) v.add('after_cursor', `is not a cursor (<milliseconds>-<sequence>, each at most ${MAX_CURSOR_PART}, as events carry them)`);
  if (v.list.length > 0) throw invalidArgument(v.list);

  const root = command.lineageOf ? await readableJob(deps, principal, command.lineageOf) : undefined;
  const viewer = viewerOf(deps, principal);
  const filter: EventFilter = {
    reader: { tenant: principal.tenant, subject: principal.subject },
    ...(command.jobIds.length > 0 ? { jobIds: new Set(command.jobIds) } : {}),
    ...(root ? { lineage: new Set([root.jobId]), lineageLimit: deps.limits.maxLineageNodes } : {}),
    ...(command.eventTypes.length > 0 ? { types: new Set(command.eventTypes as EventType[]) } : {}),
    ...(Object.keys(command.labels).length > 0 ? { labels: command.labels } : {}),
    view: async (events) => viewer.events(events, await deps.eventJobAccess.ofEvents(events)),
  };
  const start: StartAt = command.afterCursor ? { kind: 'after', cursor: command.afterCursor } : command.startPosition === 'OLDEST' ? { kind: 'oldest' } : { kind: 'now' };
  const subscription = await deps.hub.open(filter, start, slot);
  if (root) {
    // After open(), so that a job created meanwhile is either found here or seen in the queued events.
    try {
      // With nearest, a store that gives depths sends at most limit + 1 rows: enough to tell whether the root and its descendants pass the limit.
      const limit = deps.limits.maxLineageNodes;
      const descendants = await deps.store.lineage({ rootId: root.jobId, direction: 'DESCENDANTS', projection: 'IDS', nearest: limit });
      if (descendants.length >= limit) throw watchedLineageTooLarge(limit);
      for (const row of descendants) filter.lineage!.add(row.jobId);
    } catch (error) {
      subscription.close();
      throw error;
    }
  }
  return subscription;
}
