import { Counter, Gauge, type Registry } from 'prom-client';

/** Order outcomes: `issued` (new name), `renewed`, `failed`, `locked` (another replica orders it). */
export type OrderResult = 'issued' | 'renewed' | 'failed' | 'locked';

/** The `edgeplane_router_acme_*` metrics (docs/router/acme.md). */
export class AcmeMetrics {
  private readonly orders: Counter<'result'>;
  private readonly expiry: Gauge<'name'>;
  private readonly asks: Counter<'answer'>;
  private readonly storage: Counter;

  constructor(registry: Registry) {
    this.orders = new Counter({ name: 'edgeplane_router_acme_orders_total', help: 'ACME orders by result (issued, renewed, failed, locked).', labelNames: ['result'], registers: [registry] });
    this.expiry = new Gauge({ name: 'edgeplane_router_acme_certificate_expiry_seconds', help: 'When each ACME certificate served expires (Unix time, seconds).', labelNames: ['name'], registers: [registry] });
    this.asks = new Counter({ name: 'edgeplane_router_acme_ask_total', help: 'On-demand questions to the ask URL by answer (yes, no, error).', labelNames: ['answer'], registers: [registry] });
    this.storage = new Counter({ name: 'edgeplane_router_acme_storage_errors_total', help: 'Corrupt or unreadable files found in ACME storage (each reported and replaced).', registers: [registry] });
    for (const r of ['issued', 'renewed', 'failed', 'locked'] as const) this.orders.inc({ result: r }, 0);
  }

  order(result: OrderResult): void {
    this.orders.inc({ result });
  }

  ask(answer: string): void {
    this.asks.inc({ answer });
  }

  storageError(): void {
    this.storage.inc();
  }

  expires(name: string, notAfter: number): void {
    this.expiry.set({ name }, Math.round(notAfter / 1000));
  }

  dropped(name: string): void {
    this.expiry.remove({ name });
  }
}
