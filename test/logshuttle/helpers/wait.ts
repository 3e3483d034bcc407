/** Polls `cond` until it holds (generous deadline: the machine may be loaded). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
