/**
 * rsyslog as an operator would tune it for the relay rows: imtcp in, a FixedArray main queue,
 * direct omfwd actions (octet-counted TCP to the sink), one action per app when there are several.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnPinned, SUBJECT_CPU } from './pinning.js';
import { appName } from './syslog-input.js';

/** Starts rsyslogd (pinned) listening on `port`, forwarding every line of `apps` apps to `sinkPort`; its config in `dir`. */
export function startRsyslog(dir: string, port: number, sinkPort: number, apps: number): ChildProcess {
  const action = `action(type="omfwd" target="127.0.0.1" port="${sinkPort}" protocol="tcp" TCP_Framing="octet-counted" template="fwd")`;
  const rules = apps === 1 ? action
    : Array.from({ length: apps }, (_, a) => `if $hostname == "${appName(a, apps)}" then {\n  ${action}\n  stop\n}`).join('\n');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, `global(workDirectory="${dir}" maxMessageSize="16k")
module(load="imtcp")
input(type="imtcp" port="${port}" address="127.0.0.1")
main_queue(queue.type="FixedArray" queue.size="200000")
template(name="fwd" type="string" string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% - - %msg%")
${rules}
`);
  return spawnPinned(SUBJECT_CPU, 'rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
}
