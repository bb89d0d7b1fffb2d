/** @jsx h */
/** @jsxFrag Fragment */
// Pieces of the events pages: the status badge (word and colour, never colour alone) and one row of the events
// table, shared by the list and the live tail (which streams the same rows).
import type { EventAbout } from '../../services/processing/event-refs.js';
import type { EventView } from '../../services/processing/event-view.js';
import { h, Fragment, type Html } from '../jsx.js';
import { Time } from './layout.js';

const STATUS_KIND: Record<string, string> = { processed: 'ok', ignored: '', received: 'warn', failed: 'bad' };

export function StatusBadge(props: { status: string }): Html {
  return <span class={`badge ${STATUS_KIND[props.status] ?? ''}`.trim()}>{props.status}</span>;
}

/** A customer as a person reads it: name, else email, else the provider's id. */
export function customerLabel(c: { name?: unknown; email?: unknown; providerId?: unknown; id: string }): string {
  for (const v of [c.name, c.email, c.providerId]) if (typeof v === 'string' && v.trim() !== '') return v;
  return c.id;
}

export function EventRow(props: { ws: string; event: EventView; about: EventAbout | undefined; fresh?: boolean }): Html {
  const { ws, event: e, about } = props;
  const customers = about?.customers ?? [];
  return (
    <tr id={`event-${e.id}`} class={props.fresh ? 'fresh' : undefined}>
      <td>
        <Time at={e.receivedAt} />
      </td>
      <td>{e.provider}</td>
      <td>
        <a href={`/workspaces/${ws}/events/${e.id}`}>{e.type}</a>
      </td>
      <td>
        <StatusBadge status={e.status} />
      </td>
      <td>{about?.objectId ? <code>{about.objectId}</code> : <span class="muted">—</span>}</td>
      <td>
        {customers.length > 0 ? (
          customers.map((c, i) => (
            <>
              {i > 0 ? ', ' : ''}
              <a href={`/workspaces/${ws}/customers/${c.id}`}>{customerLabel(c)}</a>
            </>
          ))
        ) : about?.customerRef ? (
          <code>{about.customerRef}</code>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
    </tr>
  );
}

export function EventTableHead(): Html {
  return (
    <thead>
      <tr>
        <th scope="col">Received (UTC)</th>
        <th scope="col">Provider</th>
        <th scope="col">Type</th>
        <th scope="col">Status</th>
        <th scope="col">Object</th>
        <th scope="col">Customer</th>
      </tr>
    </thead>
  );
}
