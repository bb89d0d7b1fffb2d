/** @jsx h */
/** @jsxFrag Fragment */
// Settings of a workspace (/workspaces/:ws/settings): Stripe, Piano, email (SMTP), API keys, demo mode, members
// and the audit log. Everyone who may open the workspace reads it; every change needs the admin role (members: an admin of
// every workspace), and a viewer's page holds no secret, masked or not, and no form that changes anything.
// A form with problems comes back with status 400, each problem next to its field and what was typed kept
// (never a secret); a change that worked redirects (303) back here with ?saved=<what>. A new API key or a new
// member's set-password link is shown once: the POST keeps it server-side and redirects (303) to
// ?created=<what>&once=<id>, whose first GET shows it; later GETs of that address say it was shown once.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ForbiddenError, ProviderNotConnectedError, ValidationError } from '../../errors.js';
import { listAudit } from '../../services/audit/list-audit.js';
import { recordAudit } from '../../services/audit/record-audit.js';
import { addStripeSigningSecret } from '../../services/connections/add-stripe-signing-secret.js';
import { connectStripeApiKey } from '../../services/connections/connect-stripe-api-key.js';
import { createStripeEndpoint } from '../../services/connections/create-stripe-endpoint.js';
import { getPianoConnection, setPianoConnection } from '../../services/connections/piano-connection.js';
import { removeStripeSigningSecret } from '../../services/connections/remove-stripe-signing-secret.js';
import { getStripeConnection, setStripeConnection } from '../../services/connections/stripe-connection.js';
import { baseWebhookEventTypes, stripeManagedEndpoints, stripeSecretsView } from '../../services/connections/stripe-secrets-view.js';
import type { Ctx } from '../../services/context.js';
import { createPianoForward, deletePianoForward, listPianoForwards } from '../../services/outbound/piano-forwards.js';
import { createUser } from '../../services/users/create-user.js';
import { keepForReveal, takeRevealed, type RevealValues } from '../../services/users/console-reveals.js';
import { listUsers, removeFromWorkspace } from '../../services/users/manage-users.js';
import { isInstanceAdmin } from '../../services/workspaces/authenticate.js';
import { createApiKey } from '../../services/workspaces/create-api-key.js';
import { listApiKeys } from '../../services/workspaces/list-api-keys.js';
import { getWorkspace } from '../../services/workspaces/list-workspaces.js';
import { revokeApiKey } from '../../services/workspaces/revoke-api-key.js';
import { updateWorkspaceSettings } from '../../services/workspaces/update-workspace.js';
import { findEmailSettingsView, putEmailSettings, removeEmailSettings } from '../../services/workflows/email-settings.js';
import { webhookUrls } from '../../services/workspaces/workspace-view.js';
import { Flash, Layout } from '../components/layout.js';
import { field, problemsOf as serviceProblems } from '../forms.js';
import { h, Fragment } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml, type WorkspacePage } from '../request.js';
import { ApiKeysSection, AuditSection, DemoSection, MembersSection } from './settings-access.js';
import { EmailSection, SMTP_INPUTS, smtpBody } from './settings-email.js';
import type { FormState, SettingsForm } from './settings-fields.js';
import { PianoSection } from './settings-piano.js';
import { StripeSection } from './settings-stripe.js';

type Params = { Params: { ws: string; id?: string } };

const SAVED: Record<string, string> = {
  'stripe-secret': 'Signing secret stored. Events signed with it are accepted now.',
  'stripe-secret-removed': 'Signing secret removed.',
  'stripe-key': 'Stripe accepted the API key; it is stored.',
  'stripe-mode': 'Stripe mode saved.',
  'stripe-endpoint': 'Webhook endpoint created in Stripe; its signing secret is stored.',
  piano: 'Piano connection saved.',
  forward: 'Forward destination added.',
  'forward-removed': 'Forward destination removed.',
  'api-key-revoked': 'API key revoked: it stops working with the next request.',
  demo: 'Demo mode saved.',
  'stripe-enabled': 'Stripe webhooks switched on: new and retried deliveries are taken in.',
  'stripe-disabled': 'Stripe webhooks switched off: they are answered 503, so Stripe retries them (for up to three days).',
  'member-removed': 'Member removed from this workspace; their other workspaces and their account stay.',
  email: 'SMTP settings saved: email steps send through them from now on.',
  'email-removed': 'SMTP settings removed: email steps fail until new ones are saved.',
};

interface Extra {
  newKey?: RevealValues['api-key'];
  newMember?: RevealValues['member-link'];
  /** The address of a value shown once already (or never fetched in time): the page says so instead. */
  shownOnce?: Created;
  saved?: string;
}

/** What a form made that is shown once, and the section of the page it is shown in. */
const CREATED = { 'api-key': 'api-keys', member: 'members' } as const;
type Created = keyof typeof CREATED;

function createdOf(raw: unknown): Created | undefined {
  return typeof raw === 'string' && Object.hasOwn(CREATED, raw) ? (raw as Created) : undefined;
}

/** A failed service call's problems keyed by this form's input names (a problem of another field goes on top). */
function formProblems(err: unknown, rename: Record<string, string> = {}): Record<string, string> | undefined {
  let problems = serviceProblems(err);
  // Stripe unreachable while testing a key: nothing was saved, and the form says so (not an error page).
  if (!problems && err instanceof AppError && err.status === 502) problems = { _: err.message };
  if (!problems) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(problems)) out[rename[k] ?? k] = out[rename[k] ?? k] ? `${out[rename[k] ?? k]}; ${v}` : v;
  return out;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ProviderNotConnectedError) return null;
    throw err;
  }
}

export async function settingsPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  const render = async (reply: FastifyReply, page: WorkspacePage, state: Omit<FormState, 'csrf'> = {}, extra: Extra = {}, status = 200) => {
    const ws = page.workspace.id;
    const admin = page.role === 'admin';
    const base = `/workspaces/${ws}/settings`;
    const [workspace, stripe, secrets, endpoints, piano, forwards, keys, users, audit, smtp] = await Promise.all([
      getWorkspace(ctx, ws),
      orNull(getStripeConnection(ctx, ws)),
      admin ? stripeSecretsView(ctx, ws) : undefined,
      stripeManagedEndpoints(ctx, ws),
      orNull(getPianoConnection(ctx, ws)),
      listPianoForwards(ctx, ws, { limit: '500' }, { withStats: false }),
      admin ? listApiKeys(ctx, ws, { limit: 100 }) : undefined,
      listUsers(ctx),
      admin ? listAudit(ctx, ws, { limit: 25 }) : undefined,
      findEmailSettingsView(ctx, ws),
    ]);
    const urls = webhookUrls(ctx, ws);
    const full: FormState = { ...state, csrf: page.session.csrfToken };
    const members = users.filter((u) => u.workspaces === null || u.workspaces.includes(ws));
    const saved = extra.saved ? SAVED[extra.saved] : undefined;
    return sendHtml(
      reply,
      <Layout {...page.layout('Settings', 'settings')}>
        <h1>Settings</h1>
        {saved ? <Flash kind="ok">{saved}</Flash> : null}
        {state.form ? <Flash kind="error">The form has problems; they are shown next to its fields.</Flash> : null}
        {admin ? null : (
          <Flash kind="info">
            Your role is {page.role}: you can read these settings; changing them needs an admin. Secrets are not shown.
          </Flash>
        )}
        <nav aria-label="Settings sections" class="section-nav">
          <a href="#stripe">Stripe</a> · <a href="#piano">Piano</a> · <a href="#email">Email (SMTP)</a> · <a href="#api-keys">API keys</a> ·{' '}
          <a href="#demo">Demo mode</a> · <a href="#members">Members</a> · <a href="#audit">Audit log</a>
        </nav>
        <StripeSection
          base={base}
          webhookUrl={urls.stripe}
          connection={stripe}
          secrets={admin ? secrets : undefined}
          endpoints={endpoints}
          handledTypes={baseWebhookEventTypes().length}
          admin={admin}
          state={full}
        />
        <PianoSection base={base} webhookUrl={urls.piano} connection={piano} forwards={forwards.data} admin={admin} state={full} />
        <EmailSection base={base} settings={smtp} admin={admin} state={full} />
        <ApiKeysSection
          base={base}
          keys={keys?.data}
          created={extra.newKey}
          shownOnce={extra.shownOnce === 'api-key'}
          admin={admin}
          state={full}
        />
        <DemoSection base={base} demo={workspace.demo} admin={admin} state={full} />
        <MembersSection
          base={base}
          members={members}
          me={page.session.user.id}
          mayManage={admin && isInstanceAdmin(page.principal)}
          created={extra.newMember}
          shownOnce={extra.shownOnce === 'member'}
          state={full}
        />
        <AuditSection entries={audit?.data} />
      </Layout>,
      status,
    );
  };

  // The answer to a form with problems is at the form's URL; reloading or bookmarking it is a GET, which goes back
  // to the page instead of a 404.
  app.get<Params>('/workspaces/:ws/settings/*', async (request, reply) => {
    await requireWorkspace(ctx, request, request.params.ws);
    return reply.redirect(`/workspaces/${request.params.ws}/settings`, 303);
  });
  app.get<Params & { Querystring: { saved?: string; created?: string; once?: string } }>(
    '/workspaces/:ws/settings',
    async (request, reply) => {
      const page = await requireWorkspace(ctx, request, request.params.ws);
      const extra: Extra = { saved: request.query.saved };
      const created = createdOf(request.query.created);
      // A value made by this session's form, taken (so shown) once; only an admin made one, and only an admin sees it.
      if (created && page.role === 'admin') {
        const hash = page.session.tokenHash;
        const ws = page.workspace.id;
        if (created === 'api-key') extra.newKey = await takeRevealed(ctx, hash, 'api-key', ws, request.query.once);
        else extra.newMember = await takeRevealed(ctx, hash, 'member-link', ws, request.query.once);
        if (!extra.newKey && !extra.newMember) extra.shownOnce = created;
      }
      return render(reply, page, {}, extra);
    },
  );

  /** A change: admin only; success redirects with ?saved= (or, for a value shown once, to the GET that shows it),
   *  problems re-render the page with status 400. */
  const change = (
    path: string,
    form: SettingsForm,
    run: (page: WorkspacePage, body: unknown, request: FastifyRequest<Params>) => Promise<string | { created: Created; once: string }>,
    opts: { keep?: string[]; rename?: Record<string, string>; instanceAdmin?: boolean } = {},
  ) => {
    app.post<Params>(`/workspaces/:ws/settings${path}`, async (request, reply) => {
      const page = await requireWorkspace(ctx, request, request.params.ws);
      requireRole(page, 'admin', 'Changing the settings');
      if (opts.instanceAdmin && !isInstanceAdmin(page.principal)) {
        throw new ForbiddenError('adding or removing members needs an admin of every workspace');
      }
      try {
        const done = await run(page, request.body, request);
        if (typeof done === 'string')
          // To the top, where the notice is (an anchor to the section scrolled it out of sight).
          return reply.redirect(`/workspaces/${page.workspace.id}/settings?saved=${done}`, 303);
        // A value shown once: to its section, far down a long page, where the GET shows it. The address holds the
        // id of the value kept for this session, never the value.
        return reply.redirect(
          `/workspaces/${page.workspace.id}/settings?created=${done.created}&once=${done.once}#${CREATED[done.created]}`,
          303,
        );
      } catch (err) {
        const problems = formProblems(err, opts.rename);
        if (!problems) throw err;
        const values: Record<string, string> = {};
        for (const name of opts.keep ?? []) {
          const v = field(request.body, name);
          if (v !== undefined) values[name] = v;
        }
        return render(reply, page, { form, problems, values }, {}, 400);
      }
    });
  };

  change(
    '/stripe/secrets',
    'stripe-secret',
    async (page, body) => {
      await addStripeSigningSecret(ctx, page.workspace.id, field(body, 'webhookSecret'), page.principal);
      return 'stripe-secret';
    },
    { rename: { webhookSecrets: 'webhookSecret' } },
  );
  change(
    '/stripe/secrets/remove',
    'stripe-secret-remove',
    async (page, body) => {
      await removeStripeSigningSecret(ctx, page.workspace.id, field(body, 'fingerprint'), page.principal);
      return 'stripe-secret-removed';
    },
    { rename: { fingerprint: '_' } },
  );
  change('/stripe/api-key', 'stripe-key', async (page, body) => {
    await connectStripeApiKey(ctx, page.workspace.id, field(body, 'apiKey'), page.principal);
    return 'stripe-key';
  });
  change(
    '/stripe/enabled',
    'stripe-enabled',
    async (page, body) => {
      const enabled = field(body, 'enabled') === 'true';
      await setStripeConnection(ctx, page.workspace.id, { enabled }, page.principal);
      return enabled ? 'stripe-enabled' : 'stripe-disabled';
    },
    {},
  );
  change(
    '/stripe/mode',
    'stripe-mode',
    async (page, body) => {
      const mode = field(body, 'mode');
      if (mode !== 'test' && mode !== 'live') throw new ValidationError('choose test or live', { field: 'mode' });
      try {
        await setStripeConnection(ctx, page.workspace.id, { mode }, page.principal);
      } catch (err) {
        // Nothing stored yet: the mode alone connects nothing.
        if (err instanceof AppError && err.status === 400 && !(err.details as { field?: string }).field) {
          throw new ValidationError('add a signing secret or an API key before choosing the mode', { field: 'mode' });
        }
        throw err;
      }
      return 'stripe-mode';
    },
    { keep: ['mode'] },
  );
  change(
    '/stripe/endpoints',
    'stripe-endpoint',
    async (page, body) => {
      const list = (field(body, 'enabledEvents') ?? '')
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter(Boolean);
      await createStripeEndpoint(ctx, page.workspace.id, list.length > 0 ? { enabledEvents: list } : {}, page.principal);
      return 'stripe-endpoint';
    },
    { keep: ['enabledEvents'], rename: { description: '_' } },
  );
  change(
    '/piano',
    'piano',
    async (page, body) => {
      const input: Record<string, unknown> = {};
      const aid = field(body, 'aid')?.trim();
      const privateKey = field(body, 'privateKey');
      const apiToken = field(body, 'apiToken');
      const region = field(body, 'region');
      if (aid) input.aid = aid;
      if (privateKey) input.privateKey = privateKey;
      if (apiToken) input.apiToken = apiToken;
      if (region) input.region = region;
      const existing = await orNull(getPianoConnection(ctx, page.workspace.id));
      const missing: { field: string; message: string }[] = [];
      if (!existing && !aid) missing.push({ field: 'aid', message: 'enter the Piano application id' });
      if (!existing && !privateKey) missing.push({ field: 'privateKey', message: "enter the application's private key" });
      if (missing.length > 0) {
        throw new ValidationError('aid and privateKey are required to connect Piano', { field: missing[0]!.field, problems: missing });
      }
      await setPianoConnection(ctx, page.workspace.id, input, page.principal);
      return 'piano';
    },
    { keep: ['aid', 'region'] },
  );
  change(
    '/piano/forwards',
    'forward',
    async (page, body) => {
      const description = field(body, 'forwardDescription')?.trim();
      await createPianoForward(
        ctx,
        page.workspace.id,
        { url: field(body, 'forwardUrl') ?? '', ...(description ? { description } : {}) },
        page.principal,
      );
      return 'forward';
    },
    { keep: ['forwardUrl', 'forwardDescription'], rename: { url: 'forwardUrl', description: 'forwardDescription' } },
  );
  change('/piano/forwards/:id/remove', 'forward-remove', async (page, _body, request) => {
    await deletePianoForward(ctx, page.workspace.id, request.params.id ?? '', page.principal);
    return 'forward-removed';
  });
  change(
    '/api-keys',
    'api-key',
    async (page, body) => {
      const name = field(body, 'keyName')?.trim();
      const made = await createApiKey(ctx, page.workspace.id, { name: name || undefined, role: field(body, 'keyRole') }, page.principal);
      // Shown once, on the GET this redirects to; never in a URL, a cookie or the log.
      const value = { key: made.key, name: made.name, role: made.role };
      return { created: 'api-key', once: await keepForReveal(ctx, page.session.tokenHash, 'api-key', page.workspace.id, value) };
    },
    { keep: ['keyName', 'keyRole'], rename: { name: 'keyName', role: 'keyRole' } },
  );
  change(
    '/email',
    'email',
    async (page, body) => {
      try {
        await putEmailSettings(
          ctx,
          page.workspace.id,
          smtpBody((name) => field(body, name)),
          page.principal,
        );
      } catch (err) {
        // The API's problems name settings fields (path); the form's name its inputs.
        const problems =
          err instanceof AppError && err.status === 422 ? (err.details.problems as { path: string; message: string }[]) : null;
        if (!problems) throw err;
        throw new ValidationError(err instanceof Error ? err.message : 'invalid', {
          problems: problems.map((p) => ({ field: SMTP_INPUTS[p.path] ?? '_', message: p.message })),
        });
      }
      return 'email';
    },
    { keep: Object.values(SMTP_INPUTS).filter((name) => name !== 'smtpPassword') },
  );
  change('/email/remove', 'email-remove', async (page) => {
    await removeEmailSettings(ctx, page.workspace.id, page.principal);
    return 'email-removed';
  });
  change('/api-keys/:id/revoke', 'api-key-revoke', async (page, _body, request) => {
    await revokeApiKey(ctx, page.workspace.id, request.params.id ?? '', page.principal);
    return 'api-key-revoked';
  });
  change('/demo', 'demo', async (page, body) => {
    await updateWorkspaceSettings(ctx, page.workspace.id, { demo: field(body, 'demo') === 'on' }, page.principal);
    return 'demo';
  });
  change(
    '/members',
    'member',
    async (page, body) => {
      const made = await createUser(ctx, page.principal, {
        email: field(body, 'email'),
        role: field(body, 'memberRole'),
        workspaces: field(body, 'allWorkspaces') === 'on' ? null : [page.workspace.id],
      });
      await recordAudit(ctx, page.principal, page.workspace.id, 'member.added', made.user.id, {
        email: made.user.email,
        role: made.user.role,
        workspaces: made.user.workspaces === null ? 'all' : 'this one',
      });
      const value = { email: made.user.email, url: made.setPasswordUrl ?? '' };
      return { created: 'member', once: await keepForReveal(ctx, page.session.tokenHash, 'member-link', page.workspace.id, value) };
    },
    { keep: ['email', 'memberRole', 'allWorkspaces'], rename: { role: 'memberRole', workspaces: 'allWorkspaces' }, instanceAdmin: true },
  );
  change(
    '/members/:id/remove',
    'member-remove',
    async (page, _body, request) => {
      const id = request.params.id ?? '';
      if (id === page.session.user.id) throw new ValidationError('you cannot remove yourself');
      await removeFromWorkspace(ctx, page.principal, page.workspace.id, id);
      return 'member-removed';
    },
    { instanceAdmin: true },
  );
}
