/**
 * The @fastify/http-proxy peer: fastify 5 with @fastify/http-proxy (undici pool, keep-alive) in
 * front of one upstream, one access line per response through fastify's pino logger on stdout
 * (request logging's two lines per request replaced by one `onResponse` line, like the others).
 *
 *   node dist/bench/lib/fastify-proxy.js --upstream http://127.0.0.1:PORT    prints `port N` on stderr
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

async function serve(upstream: string): Promise<void> {
  const { default: Fastify, LogController } = await import('fastify');
  const { default: proxy } = await import('@fastify/http-proxy');
  const app = Fastify({ logger: { level: 'info' }, logController: new LogController({ disableRequestLogging: true }) });
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ method: req.method, url: req.url, host: req.headers.host, status: reply.statusCode, ms: reply.elapsedTime }, 'access');
    done();
  });
  // reply-from's own two info lines per request off: the onResponse line above is the access log
  await app.register(proxy, { upstream, disableRequestLogging: true });
  const addr = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stderr.write(`port ${new URL(addr).port}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
  if (!values.upstream) throw new Error('--upstream URL is required');
  void serve(values.upstream);
}
