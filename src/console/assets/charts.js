// Time-series charts of the console (uPlot, served from node_modules). A chart is a <div data-chart> holding
// its series as JSON in a data attribute: no inline script, so the Content-Security-Policy stays strict.
(function () {
  'use strict';
  function draw(el) {
    if (typeof uPlot === 'undefined') return;
    var spec;
    try {
      spec = JSON.parse(el.getAttribute('data-chart') || '{}');
    } catch {
      return;
    }
    if (el.sluicePlot) el.sluicePlot.destroy();
    el.textContent = '';
    var styles = getComputedStyle(document.documentElement);
    var fg = styles.getPropertyValue('--muted').trim() || '#57606a';
    var palette = ['#0a58ca', '#b35900', '#1a7f37', '#a40e26', '#8250df'];
    var opts = {
      width: Math.max(280, el.clientWidth || 600),
      height: 180,
      title: spec.title || '',
      // optional: spec.yRange [min, max] (a percentage chart stays 0-100), spec.points (mark each value, so an
      // isolated one between gaps still shows)
      scales: spec.yRange ? { x: { time: true }, y: { range: spec.yRange } } : { x: { time: true } },
      axes: [
        { stroke: fg, grid: { stroke: 'rgba(128,128,128,0.15)' } },
        { stroke: fg, grid: { stroke: 'rgba(128,128,128,0.15)' } },
      ],
      series: [{}].concat(
        (spec.series || []).map(function (name, i) {
          var s = { label: name, stroke: palette[i % palette.length], width: 2 };
          if (spec.points) s.points = { show: true, size: 6, fill: palette[i % palette.length] };
          return s;
        }),
      ),
    };
    el.sluicePlot = new uPlot(opts, spec.data || [[]], el);
  }
  function drawAll() {
    document.querySelectorAll('[data-chart]').forEach(draw);
  }
  // uPlot draws at a fixed pixel width: without this a chart drawn on a narrow window stays that narrow when the
  // window widens (a phone turned, a window maximised), and one drawn wide runs past the edge when it narrows.
  var resizing;
  function fitAll() {
    document.querySelectorAll('[data-chart]').forEach(function (el) {
      var plot = el.sluicePlot;
      var width = Math.max(280, el.clientWidth || 600);
      if (plot && Math.round(plot.width) !== width) plot.setSize({ width: width, height: plot.height });
    });
  }
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(fitAll, 150);
  });
  document.addEventListener('DOMContentLoaded', drawAll);
  document.addEventListener('sluice:theme', drawAll);
  document.addEventListener('htmx:afterSettle', drawAll);
})();
