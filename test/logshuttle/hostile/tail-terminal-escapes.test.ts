// Control bytes in a log message reach a terminal escaped through edgeplane-tail (never obeyed),
// and pass unchanged through the API and through the CLI into a pipe.
import t from 'tap';
import { spawn } from 'node:child_process';
import { startShuttle, TAIL } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { postNdjson } from '../helpers/send.js';
import { spawnTail } from '../helpers/tail-cli.js';
import { terminalSafe } from '../../../logshuttle/tail-cli/terminal-safe.js';

t.setTimeout(600_000);

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);
// retitles the window, clears the screen, moves the cursor, rings the bell; a tab; a C1 CSI
const HOSTILE = 'a\x1b]0;owned\x07b\x1b[2Jc\x1b[1;1Hd\x08e\tf\u009b31mg\x7fh';
const SHOWN = 'a^[]0;owned^Gb^[[2Jc^[[1;1Hd^He\tf<U+009B>31mg^?h';

t.test('terminalSafe: caret notation for C0 and DEL, <U+XXXX> for C1, tab kept', async (t) => {
  t.equal(terminalSafe(HOSTILE), SHOWN);
  t.equal(terminalSafe('plain text, ünïcode ☃\ttab'), 'plain text, ünïcode ☃\ttab');
  t.equal(terminalSafe('\x00\x1f'), '^@^_');
});

/** runs the CLI with a pseudo-terminal as its stdout (util-linux `script`) */
function tailInTerminal(args: string[]): Promise<string> {
  const cmd = [process.execPath, TAIL, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.FORCE_COLOR;
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`tail in a terminal did not exit: ${JSON.stringify(out)}`)); }, 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.replace(/\r\n/g, '\n'));
      else reject(new Error(`exit ${code}: ${JSON.stringify(out)}`));
    });
  });
}

t.test('escaped for a terminal, unchanged for the API and a pipe', async (t) => {
  const sh = await startShuttle(t);
  const posted = await postNdjson(sh.base, [{ app: 'esc', time: T0, message: HOSTILE }]);
  t.equal(posted.status, 200);
  const want = `${new Date(T0).toISOString()} esc app[web.1]: `;

  const api = await httpRequest(`${sh.base}/apps/esc/logs?lines=5`);
  t.equal(api.body, `${want}${HOSTILE}\n`, 'the API keeps the bytes as received');

  const piped = spawnTail(t, ['--app', 'esc', '--url', sh.base, '--no-follow']);
  t.equal(await piped.exit, 0);
  t.equal(piped.stdout(), `${want}${HOSTILE}\n`, 'into a pipe: as received');

  const shown = await tailInTerminal(['--app', 'esc', '--url', sh.base, '--no-follow']);
  t.equal(shown, `${want}${SHOWN}\n`, 'to a terminal: every control byte but tab shown, none sent');
  t.notOk(/\x1b/.test(shown), 'no ESC reached the terminal');
});
