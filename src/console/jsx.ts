// The console's HTML renderer: JSX compiled to string building, escaping by default. Every string or number
// child and every attribute value is escaped; only an `Html` value (what components return, or `raw()` of
// markup we wrote ourselves) goes in as markup. So a customer named `<img onerror=…>` is text wherever it is
// shown, without anyone remembering to escape it. (tsconfig: jsxFactory h, jsxFragmentFactory Fragment.)

/** Markup that is already safe: rendered elements, or text passed through `raw()` on purpose. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Child = Html | string | number | boolean | null | undefined | Child[];
export type Component<P = Record<string, unknown>> = (props: P & { children?: Child }) => Html;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Trusted markup as is: only for text that comes from this code base, never from input. */
export function raw(markup: string): Html {
  return new Html(markup);
}

// Elements that have no closing tag.
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const NAME = /^[a-zA-Z][a-zA-Z0-9:_.-]*$/;

function renderChild(child: Child, out: string[]): void {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) for (const c of child) renderChild(c, out);
  else if (child instanceof Html) out.push(child.value);
  else out.push(escapeHtml(String(child)));
}

function renderAttributes(props: Record<string, unknown>): string {
  let out = '';
  for (const [key, value] of Object.entries(props)) {
    if (key === 'children' || value === undefined || value === null || value === false) continue;
    // Attribute names come from our own templates; a bad one is a programming error, not input.
    if (!NAME.test(key)) throw new Error(`invalid attribute name ${JSON.stringify(key)}`);
    const name = key === 'className' ? 'class' : key;
    out += value === true ? ` ${name}` : ` ${name}="${escapeHtml(String(value))}"`;
  }
  return out;
}

// A component's props type is its own: `never` accepts every component here, and JSX type-checks the props.
export function h(type: string | ((props: never) => Html), props: Record<string, unknown> | null, ...children: Child[]): Html {
  const all = { ...(props ?? {}) };
  if (typeof type === 'function') {
    const component = type as (props: Record<string, unknown>) => Html;
    return component({ ...all, children: children.length === 1 ? children[0] : children });
  }
  if (!NAME.test(type)) throw new Error(`invalid element name ${JSON.stringify(type)}`);
  const out: string[] = [`<${type}${renderAttributes(all)}>`];
  if (VOID.has(type)) return new Html(out[0]!);
  renderChild(children, out);
  out.push(`</${type}>`);
  return new Html(out.join(''));
}

export function Fragment(props: { children?: Child }): Html {
  const out: string[] = [];
  renderChild(props.children, out);
  return new Html(out.join(''));
}

/** A whole document: the doctype and the root element. */
export function renderDocument(root: Html): string {
  return `<!doctype html>${root.value}`;
}

type Attr = string | number | boolean | null | undefined;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    type Element = Html;
    interface ElementChildrenAttribute {
      children: unknown;
    }
    interface IntrinsicElements {
      [name: string]: { [attribute: string]: Attr | Child };
    }
  }
}
