// Sluice console: the little behaviour htmx does not give. Loaded with the page's CSP nonce; no inline code,
// no eval. Theme toggle, copy buttons, auto-submitting selects, pause/resume of the live tail, and values shown once
// kept out of the back/forward cache.
(function () {
  'use strict';
  var root = document.documentElement;
  var saved = null;
  try {
    saved = localStorage.getItem('sluice-theme');
  } catch {
    /* storage blocked: follow the system */
  }
  if (saved === 'light' || saved === 'dark') root.setAttribute('data-theme', saved);

  function currentTheme() {
    var set = root.getAttribute('data-theme');
    if (set) return set;
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  document.addEventListener('click', function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    if (target.id === 'theme-toggle') {
      var next = currentTheme() === 'dark' ? 'light' : 'dark';
      root.setAttribute('data-theme', next);
      try {
        localStorage.setItem('sluice-theme', next);
      } catch {
        /* not kept across pages: fine */
      }
      document.dispatchEvent(new CustomEvent('sluice:theme'));
      return;
    }
    var copy = target.closest('[data-copy]');
    if (copy) {
      var text = copy.getAttribute('data-copy') || '';
      var done = function () {
        var before = copy.textContent;
        copy.textContent = 'Copied';
        setTimeout(function () {
          copy.textContent = before;
        }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {
          fallbackCopy(text);
          done();
        });
      } else {
        fallbackCopy(text);
        done();
      }
    }
    var pause = target.closest('[data-tail-toggle]');
    if (pause) {
      var tail = document.getElementById(pause.getAttribute('data-tail-toggle'));
      if (!tail) return;
      var paused = tail.getAttribute('data-paused') === 'true';
      tail.setAttribute('data-paused', paused ? 'false' : 'true');
      pause.textContent = paused ? 'Pause' : 'Resume';
      pause.setAttribute('aria-pressed', paused ? 'false' : 'true');
      var status = document.getElementById(pause.getAttribute('data-tail-status'));
      if (status) status.textContent = paused ? 'Live: new events appear at the top.' : 'Paused: new events are held until you resume.';
      if (paused) {
        var held = tail.__held || [];
        tail.__held = [];
        // Oldest first: each message goes on top of the one before, so the newest ends up first.
        held.forEach(function (html) {
          tail.insertAdjacentHTML('afterbegin', html);
        });
        if (window.htmx) window.htmx.process(tail);
      }
    }
  });

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand('copy');
    } catch {
      /* the value stays visible to copy by hand */
    }
    document.body.removeChild(area);
  }

  document.addEventListener('change', function (e) {
    var target = e.target;
    if (target instanceof HTMLSelectElement) {
      var form = target.closest('form[data-autosubmit]');
      if (form) form.submit();
    }
  });

  // A value shown once (a new API key, a set-password link, a signing secret: [data-shown-once]) must not come back
  // with the back button. Browsers keep pages in the back/forward cache, Cache-Control: no-store or not, and restore
  // them without asking the server: leaving the page blanks the value, and a page restored from that cache is asked
  // for again, and the server answers that the value was shown once.
  window.addEventListener('pagehide', function (e) {
    if (!e.persisted) return;
    document.querySelectorAll('[data-shown-once]').forEach(function (el) {
      el.replaceChildren();
    });
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted && document.querySelector('[data-shown-once]')) window.location.reload();
  });

  // A paused tail keeps what arrives, in order, and shows it on resume.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    var tail = e.target instanceof Element ? e.target.closest('[data-paused]') : null;
    if (tail && tail.getAttribute('data-paused') === 'true') {
      e.preventDefault();
      tail.__held = tail.__held || [];
      tail.__held.push(e.detail.data);
    }
  });
})();
