import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fragment, h, raw, renderDocument } from './jsx.js';

const evil = '<img src=x onerror=alert(1)>';

test('text children and attribute values are escaped; only raw() and rendered elements go in as markup', () => {
  const html = h('p', { title: `"${evil}"`, 'data-x': "it's" }, evil, h('b', null, 'bold'), raw('<i>ours</i>'), 5, null, false).value;
  assert.equal(
    html,
    '<p title="&quot;&lt;img src=x onerror=alert(1)&gt;&quot;" data-x="it&#39;s">&lt;img src=x onerror=alert(1)&gt;<b>bold</b><i>ours</i>5</p>',
  );
});

test('components get their children; fragments and arrays flatten; void elements have no closing tag', () => {
  const Item = (props: { name: string }) => h('li', null, props.name);
  const list = h(
    'ul',
    null,
    [evil, 'b'].map((name) => h(Item, { name })),
  );
  assert.equal(list.value, '<ul><li>&lt;img src=x onerror=alert(1)&gt;</li><li>b</li></ul>');
  assert.equal(h(Fragment, null, 'a', h('br', null)).value, 'a<br>');
  assert.equal(
    h('input', { disabled: true, value: evil, hidden: false }).value,
    '<input disabled value="&lt;img src=x onerror=alert(1)&gt;">',
  );
  assert.equal(renderDocument(h('html', null)), '<!doctype html><html></html>');
});

test('an element or attribute name that is not a plain name is refused (never built from input)', () => {
  assert.throws(() => h('img onerror=x', null), /invalid element name/);
  assert.throws(() => h('p', { 'onclick="x"': 1 }), /invalid attribute name/);
});
