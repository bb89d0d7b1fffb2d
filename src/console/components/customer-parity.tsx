/** @jsx h */
/** @jsxFrag Fragment */
// The parity section of a customer's page: per access key, what the customer pays for (expected) against what
// they have (actual), from which sources, the rule that decided, and the open incidents about it; a "Check now"
// button for members and admins. Drawn from the parity view of the customer (the same as the API's
// GET …/parity/customers/:id) and the incidents whose subject is this customer.
import type { IncidentView } from '../../services/incidents/incident-view.js';
import type { CustomerParity } from '../../services/parity/customer-parity.js';
import { Empty, Time } from './layout.js';
import { IncidentStatusBadge, kindLabel, SeverityBadge } from './parity.js';
import { h, Fragment, type Html } from '../jsx.js';

/** The open incidents of one key: the key is the last part of their dedup key (kind:provider:subject:key). */
function incidentsOfKey(incidents: IncidentView[], key: string): IncidentView[] {
  return incidents.filter((i) => i.details.key === key || i.dedupKey.endsWith(`:${key}`));
}

const YesNo = (props: { yes: boolean }) => (props.yes ? <span class="yes">yes</span> : <span class="no">no</span>);

export function CustomerParity(props: {
  ws: string;
  customerId: string;
  parity: CustomerParity | undefined;
  /** Why the parity view could not be shown (the check failed to load), said instead of the table. */
  problem?: string | undefined;
  csrf: string | undefined;
  mayCheck: boolean;
  flash?: Html | null;
  /** The provider's ids of the customer's subscriptions and access rows, by Sluice id (what a person recognises). */
  providerIds?: Map<string, string>;
}): Html {
  const { ws, parity } = props;
  const incidents = parity?.incidents ?? [];
  const keys = parity?.keys ?? [];
  const perKey = new Set<string>();
  return (
    <section aria-labelledby="h-parity" id="parity">
      <h2 id="h-parity">
        Parity{' '}
        <span class="muted">
          ({keys.length} access {keys.length === 1 ? 'key' : 'keys'})
        </span>
      </h2>
      <p class="muted">
        What this customer pays for against the access they have, per access key.
        {parity?.nextCheckAt ? (
          <>
            {' '}
            Next checked at <Time at={parity.nextCheckAt} /> (or at their next change).
          </>
        ) : null}
      </p>
      {props.flash ?? null}
      {props.mayCheck ? (
        <form method="post" action={`/workspaces/${ws}/customers/${props.customerId}/check`} class="actions">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <button type="submit" class="secondary">
            Check now
          </button>
        </form>
      ) : null}
      {props.problem ? <Empty>{props.problem}</Empty> : null}
      {!props.problem && keys.length === 0 ? (
        <Empty>No access key applies: no subscription of this customer and no access row maps to a key.</Empty>
      ) : null}
      {keys.length > 0 ? (
        <div class="table-wrap">
          <table class="parity">
            <caption class="visually-hidden">Expected and actual access per key</caption>
            <thead>
              <tr>
                <th scope="col">Access key</th>
                <th scope="col">Expected (pays)</th>
                <th scope="col">Actual (has)</th>
                <th scope="col">Sources</th>
                <th scope="col">Verdict</th>
                <th scope="col">Deciding rule</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => {
                const open = incidentsOfKey(incidents, k.key);
                for (const i of open) perKey.add(i.id);
                const mismatch = k.findings.length > 0;
                return (
                  <tr class={mismatch ? 'mismatch' : undefined} id={`parity-${k.key}`}>
                    <td>
                      <code>{k.key}</code>
                    </td>
                    <td>
                      <YesNo yes={k.expected} />
                      {k.subscriptions.length > 0 ? (
                        <ul class="why">
                          {k.subscriptions.map((s) => (
                            <li>
                              <code>{props.providerIds?.get(s.id) ?? s.id}</code> {s.status ?? '—'}
                              {s.grants ? '' : ' (does not grant)'}
                            </li>
                          ))}
                        </ul>
                      ) : null}
                    </td>
                    <td>
                      <YesNo yes={k.actual} />
                      {k.access.length > 0 ? (
                        <ul class="why">
                          {k.access.map((a) => (
                            <li>
                              {a.source}: <code>{a.resource}</code>
                              {a.expiresAt ? (
                                <>
                                  {' '}
                                  until <Time at={a.expiresAt} />
                                </>
                              ) : null}
                              {a.counted ? '' : ' (not a source of this key)'}
                            </li>
                          ))}
                        </ul>
                      ) : null}
                    </td>
                    <td>{k.sources.length > 0 ? k.sources.join(', ') : <span class="muted">none: not checked</span>}</td>
                    <td class="verdict">
                      {mismatch ? k.findings.map(kindLabel).join(', ') : k.checked ? 'as expected' : 'not checked'}
                      {open.map((i) => (
                        <>
                          <br />
                          <a href={`/workspaces/${ws}/incidents/${i.id}`}>incident</a> <IncidentStatusBadge status={i.status} />
                        </>
                      ))}
                    </td>
                    <td>
                      <small>{k.rule}</small>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <OtherIncidents ws={ws} incidents={incidents.filter((i) => !perKey.has(i.id))} />
    </section>
  );
}

/** Live incidents about the customer that no key row shows (stuck events, refunds, …). */
function OtherIncidents(props: { ws: string; incidents: IncidentView[] }): Html {
  if (props.incidents.length === 0) return <></>;
  return (
    <>
      <h3>Other open incidents about this customer</h3>
      <ul class="incident-list">
        {props.incidents.map((i) => (
          <li>
            <SeverityBadge severity={i.severity} /> <a href={`/workspaces/${props.ws}/incidents/${i.id}`}>{i.title}</a>{' '}
            <IncidentStatusBadge status={i.status} /> <span class="muted">last seen</span> <Time at={i.lastSeenAt} />
          </li>
        ))}
      </ul>
    </>
  );
}
