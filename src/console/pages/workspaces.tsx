/** @jsx h */
/** @jsxFrag Fragment */
import { h, Fragment, type Html } from '../jsx.js';
import { Empty, Field, Layout, Time, type LayoutProps } from '../components/layout.js';
import type { WorkspaceView } from '../../services/workspaces/workspace-view.js';

export function WorkspacesPage(props: {
  frame: Omit<LayoutProps, 'children'>;
  workspaces: WorkspaceView[];
  mayCreate: boolean;
  values?: { name?: string };
  problems?: Record<string, string>;
}): Html {
  return (
    <Layout {...props.frame}>
      <h1>Workspaces</h1>
      {props.workspaces.length === 0 ? (
        <Empty>No workspace yet{props.mayCreate ? ': create the first one below.' : '. Ask an admin to give you one.'}</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {props.workspaces.map((w) => (
                <tr>
                  <td>
                    <a href={`/workspaces/${w.id}/overview`}>{w.name}</a>
                    {w.demo ? <span class="badge warn">demo</span> : null}
                  </td>
                  <td>
                    <code>{w.id}</code>
                  </td>
                  <td>
                    <Time at={w.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.mayCreate ? (
        <>
          <h2>New workspace</h2>
          <form method="post" action="/workspaces">
            <input type="hidden" name="_csrf" value={props.frame.csrf} />
            <Field
              label="Name"
              name="name"
              value={props.values?.name}
              error={props.problems?.name}
              required
              hint="For example your brand or product."
            />
            <button type="submit">Create workspace</button>
          </form>
        </>
      ) : null}
    </Layout>
  );
}
