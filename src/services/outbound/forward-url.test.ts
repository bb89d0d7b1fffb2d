// Where a Piano webhook that arrived as a GET is forwarded: Piano's `data=…` goes in the destination URL's query,
// which a fragment (never sent over HTTP) must not swallow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardGetUrl } from './attempt-delivery.js';

test('data joins the query of the destination, before any fragment', () => {
  assert.equal(forwardGetUrl('https://x.example/hook', 'data=abc'), 'https://x.example/hook?data=abc');
  assert.equal(forwardGetUrl('https://x.example/hook?site=1', 'data=abc'), 'https://x.example/hook?site=1&data=abc');
  for (const url of ['https://x.example/hook#piano', 'https://x.example/hook?site=1#piano?x=1', 'https://x.example/hook#']) {
    const sent = new URL(forwardGetUrl(url, 'data=a%2Bb'));
    assert.equal(sent.searchParams.get('data'), 'a+b', url);
    assert.equal(sent.hash, '', url);
  }
  assert.equal(new URL(forwardGetUrl('https://x.example/hook?site=1#f', 'data=z')).searchParams.get('site'), '1');
  assert.equal(forwardGetUrl('https://x.example/hook?', 'data=z'), 'https://x.example/hook?data=z');
});
