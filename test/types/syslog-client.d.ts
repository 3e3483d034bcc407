// The parts of syslog-client 1.1.1 (no types published) that the tests use as a third-party sender.
declare module 'syslog-client' {
  import type { EventEmitter } from 'node:events';
  export const Transport: { readonly Tcp: 1; readonly Udp: 2 };
  export const Severity: {
    readonly Emergency: 0; readonly Alert: 1; readonly Critical: 2; readonly Error: 3;
    readonly Warning: 4; readonly Notice: 5; readonly Informational: 6; readonly Debug: 7;
  };
  export const Facility: Record<string, number>;
  export interface ClientOptions {
    port?: number; transport?: number; rfc3164?: boolean; syslogHostname?: string; appName?: string;
    facility?: number; severity?: number; tcpTimeout?: number;
  }
  export interface LogOptions { facility?: number; severity?: number; rfc3164?: boolean; appName?: string; syslogHostname?: string; timestamp?: Date }
  export interface Client extends EventEmitter {
    log(message: string, options?: LogOptions, cb?: (err?: Error) => void): void;
    close(): void;
  }
  export function createClient(target: string, options?: ClientOptions): Client;
  const syslog: { Transport: typeof Transport; Severity: typeof Severity; Facility: typeof Facility; createClient: typeof createClient };
  export default syslog;
}
