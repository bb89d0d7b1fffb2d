// Sluice console, workflow pages: line numbers beside the definition editor, links from a problem to its line,
// and the trigger picker (source → object → actions) that writes the trigger into the definition. Plain script,
// loaded with the page's CSP nonce; no framework, no eval. The editor works without it.
(function () {
  'use strict';

  // Mirrors formatJson in src/console/json-text.ts: a value that fits in WIDTH stays on one line.
  var WIDTH = 100;
  function oneLine(v) {
    if (Array.isArray(v)) return v.length === 0 ? '[]' : '[' + v.map(oneLine).join(', ') + ']';
    if (v !== null && typeof v === 'object') {
      var keys = Object.keys(v);
      if (keys.length === 0) return '{}';
      return (
        '{ ' +
        keys
          .map(function (k) {
            return JSON.stringify(k) + ': ' + oneLine(v[k]);
          })
          .join(', ') +
        ' }'
      );
    }
    var s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  }
  function format(v, indent, prefix) {
    var flat = oneLine(v);
    if (v === null || typeof v !== 'object' || indent.length + prefix.length + flat.length <= WIDTH) return flat;
    var inner = indent + '  ';
    if (Array.isArray(v)) {
      return (
        '[\n' +
        v
          .map(function (x) {
            return inner + format(x, inner, '');
          })
          .join(',\n') +
        '\n' +
        indent +
        ']'
      );
    }
    return (
      '{\n' +
      Object.keys(v)
        .map(function (k) {
          var key = JSON.stringify(k) + ': ';
          return inner + key + format(v[k], inner, key);
        })
        .join(',\n') +
      '\n' +
      indent +
      '}'
    );
  }

  var editor = document.querySelector('[data-json-editor]');
  var area = editor ? editor.querySelector('textarea') : null;
  var gutter = editor ? editor.querySelector('.gutter') : null;

  // Line numbers: redrawn when the number of lines changes; lines with a problem stay marked until edited away.
  var marked = {};
  if (area) {
    (area.getAttribute('data-problem-lines') || '').split(',').forEach(function (n) {
      if (n) marked[n] = true;
    });
  }
  var drawn = -1;
  function drawGutter() {
    if (!area || !gutter) return;
    var count = area.value.split('\n').length;
    if (count === drawn) return;
    drawn = count;
    var out = [];
    for (var n = 1; n <= count; n++) out.push(marked[n] ? '<span class="bad">' + n + '</span>' : '<span>' + n + '</span>');
    gutter.innerHTML = out.join('');
    gutter.scrollTop = area.scrollTop;
  }
  if (area && gutter) {
    area.addEventListener('input', drawGutter);
    area.addEventListener('scroll', function () {
      gutter.scrollTop = area.scrollTop;
    });
    drawGutter();
  }

  /** Selects line `n` of the editor and scrolls it into view. */
  function goToLine(n) {
    if (!area) return;
    var lines = area.value.split('\n');
    var start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[n - 1] || '').length;
    area.focus();
    area.setSelectionRange(start, end);
    var lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (n - 4) * lineHeight);
    if (gutter) gutter.scrollTop = area.scrollTop;
  }

  document.addEventListener('click', function (e) {
    var link = e.target instanceof Element ? e.target.closest('a.line-link[data-line]') : null;
    if (!link) return;
    e.preventDefault();
    goToLine(Number(link.getAttribute('data-line')));
  });

  // ---- the trigger picker ----
  var picker = document.getElementById('trigger-picker');
  if (!picker || !area || area.readOnly) return;
  var catalog = {};
  try {
    catalog = JSON.parse(picker.getAttribute('data-catalog') || '{}');
  } catch {
    return;
  }
  var source = document.getElementById('pick-source');
  var object = document.getElementById('pick-object');
  var actions = document.getElementById('pick-actions');
  var write = document.getElementById('pick-write');
  var status = document.getElementById('pick-status');

  function option(value, label) {
    var o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    return o;
  }

  function fillObjects(selected) {
    var list = catalog[source.value] || [];
    object.innerHTML = '';
    list.forEach(function (o) {
      object.appendChild(option(o.object, o.object));
    });
    object.disabled = list.length === 0;
    write.disabled = list.length === 0;
    status.textContent =
      list.length === 0 && source.value === 'custom'
        ? 'No custom event has been published in this workspace yet: publish one first, or write the trigger by hand.'
        : '';
    if (
      selected &&
      list.some(function (o) {
        return o.object === selected;
      })
    )
      object.value = selected;
  }

  function fillActions(checked) {
    var offer = (catalog[source.value] || []).find(function (o) {
      return o.object === object.value;
    });
    actions.innerHTML = '';
    (offer ? offer.actions : []).forEach(function (a, i) {
      var li = document.createElement('li');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.id = 'pick-action-' + i;
      box.value = a;
      box.checked = Boolean(checked && checked.indexOf(a) >= 0);
      var label = document.createElement('label');
      label.htmlFor = box.id;
      label.textContent = a;
      li.appendChild(box);
      li.appendChild(label);
      actions.appendChild(li);
    });
  }

  /** The editor's definition, or null when it is not (yet) valid JSON. */
  function current() {
    if (area.value.trim() === '') return {};
    try {
      var v = JSON.parse(area.value);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }

  // Start from the trigger the definition has, when the picker offers it.
  var start = current();
  var t = start && start.trigger && typeof start.trigger === 'object' ? start.trigger : null;
  if (t && typeof t.source === 'string' && catalog[t.source]) source.value = t.source;
  fillObjects(t ? t.object : null);
  fillActions(t && Array.isArray(t.actions) ? t.actions : null);
  picker.hidden = false;

  source.addEventListener('change', function () {
    fillObjects(null);
    fillActions(null);
  });
  object.addEventListener('change', function () {
    fillActions(null);
  });

  write.addEventListener('click', function () {
    var def = current();
    if (!def) {
      status.textContent = 'The definition is not valid JSON yet: fix it first (the save shows where), then write the trigger.';
      return;
    }
    var ticked = Array.prototype.slice.call(actions.querySelectorAll('input:checked')).map(function (b) {
      return b.value;
    });
    var trigger = { source: source.value, object: object.value };
    if (ticked.length > 0) trigger.actions = ticked;
    var before = def.trigger && typeof def.trigger === 'object' ? def.trigger : null;
    if (before && typeof before.if === 'string') trigger.if = before.if;
    def.trigger = trigger;
    area.value = format(def, '', '');
    area.dispatchEvent(new CustomEvent('input', { bubbles: true }));
    status.textContent =
      'Trigger written: ' +
      trigger.source +
      ' · ' +
      trigger.object +
      ' · ' +
      (ticked.length > 0 ? ticked.join(', ') : 'every action') +
      '. Save to keep it.';
  });
})();
