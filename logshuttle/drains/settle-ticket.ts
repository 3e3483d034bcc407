/**
 * A line that wants to know when the drains are done with it (bus mode: the bus message is
 * acknowledged then). Each drain that takes the line calls `hold()` once when it queues it and
 * `settle()` once when it is done: written to the peer (syslog), answered (HTTPS, 2xx or a 4xx
 * that drops the batch), or dropped and counted for an L10 line. Outside bus mode no line has
 * a ticket and nothing here runs.
 */
export interface SettleTicket {
  hold(): void;
  settle(): void;
}
