// Preloaded into Sluice by PROF_PHASE_CPU=1 (see common.ts): the first SIGUSR2 starts V8's CPU profiler, the
// second writes what it sampled to /tmp/sluice-phase-<pid>-<n>.cpuprofile. A whole-life --cpu-prof would mix the
// set-up (publishing, storing) into the phase a script measures.
import fs from 'node:fs';
import inspector from 'node:inspector';

const session = new inspector.Session();
session.connect();
let running = false;
let n = 0;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () => session.post('Profiler.start'));
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, result) => {
    if (err) return console.error('phase profile failed', err);
    const file = `/tmp/sluice-phase-${process.pid}-${n++}.cpuprofile`;
    fs.writeFileSync(file, JSON.stringify(result.profile));
    console.error(`phase profile written to ${file}`);
  });
});
