// The console in a real browser: the machine's Chromium driven by playwright-core (never a browser downloaded by
// a tool). Tests that need it are skipped, saying why, where no Chromium is installed.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createUser } from '../../src/services/users/create-user.js';
import type { TestApp } from './app.js';

export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
export const noBrowser: string | false = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: apt-get install chromium, or set SLUICE_CHROMIUM to a Chromium binary`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

let userCount = 0;

/** A console user made directly through the service (with a password), for tests that start signed out. */
export async function makeUser(
  app: TestApp,
  role: 'admin' | 'member' | 'viewer',
  workspaces: string[] | null = null,
): Promise<{ email: string; password: string; id: string }> {
  const email = `${role}-${process.pid}-${++userCount}-${Date.now()}@example.test`;
  const password = `pw-${role}-correct-horse-${userCount}`;
  const made = await createUser(app.ctx, { kind: 'admin' }, { email, password, role, workspaces });
  return { email, password, id: made.user.id };
}

/** A fresh browser context signed in as the user through the real login form. */
export async function signedIn(
  browser: Browser,
  app: TestApp,
  user: { email: string; password: string },
  next = '/',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${app.url}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  return { context, page };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; html: string }[];
}

/** WCAG 2.x A and AA violations on the page as it is now (axe-core, evaluated through the debugging protocol,
 *  which the page's Content-Security-Policy does not govern). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  return page.evaluate(`(async () => {
    ${axeSource};
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, html: n.html })) }));
  })()`);
}

/** Fails with the violations listed, readably. */
export function describeViolations(v: AxeViolation[]): string {
  return v
    .map((x) => `${x.id} (${x.impact}): ${x.help}\n${x.nodes.map((n) => `    ${n.target.join(' ')}  ${n.html.slice(0, 160)}`).join('\n')}`)
    .join('\n');
}

/** Content-Security-Policy violations the page reported (collected from the console). */
export function collectCspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/.test(msg.text())) seen.push(msg.text());
  });
  return seen;
}
