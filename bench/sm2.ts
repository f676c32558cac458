/**
 * SM2 on one core: signatures and verifications per CPU second (process.cpuUsage, user + system)
 * and per wall second, with the standard user ID, over a message the size of a network request.
 * The machine is shared, so the CPU figure is the one to compare. One-time costs (G's table, a
 * public key's table) are measured on their own before the timed loops.
 * `npm run bench -- sm2`. Prints a table; asserts nothing.
 */
import { generateSm2KeyPair, sm2Sign, sm2SignVariableTime, sm2Verify } from "../src/kernel/crypto/sm2.ts";

const SECONDS = Number(process.env.BENCH_SM2_SECONDS ?? 3);
const WARM_UP_OPS = 50;

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function once(fn: () => void): number {
  const started_cpu_ms = cpuMs();
  fn();
  return cpuMs() - started_cpu_ms;
}

function rate(fn: () => void): { ops: number; per_cpu_s: number; per_wall_s: number; cpu_us_per_op: number } {
  for (let i = 0; i < WARM_UP_OPS; i++) fn(); // JIT
  const started_wall_ms = performance.now();
  const started_cpu_ms = cpuMs();
  const until = started_wall_ms + SECONDS * 1000;
  let ops = 0;
  while (performance.now() < until) {
    fn();
    ops += 1;
  }
  const cpu_ms = cpuMs() - started_cpu_ms;
  const wall_ms = performance.now() - started_wall_ms;
  return { ops, per_cpu_s: (ops * 1000) / cpu_ms, per_wall_s: (ops * 1000) / wall_ms, cpu_us_per_op: (cpu_ms * 1000) / ops };
}

export async function benchSm2(): Promise<Record<string, string | number>[]> {
  const keys = generateSm2KeyPair();
  const message = `<root><MsgHeader>${"x".repeat(200)}</MsgHeader><MsgBody>${"支付".repeat(150)}</MsgBody></root>`;
  let signature: Buffer = Buffer.alloc(0);
  const first_sign_cpu_ms = once(() => (signature = sm2Sign(message, keys.private_key_hex)));
  const first_verify_cpu_ms = once(() => {
    if (!sm2Verify(message, signature, keys.public_key_hex)) throw new Error("SM2 round trip failed");
  });
  const first_variable_time_cpu_ms = once(() => sm2SignVariableTime(message, keys.private_key_hex));
  const sign = rate(() => sm2Sign(message, keys.private_key_hex));
  // The sandbox's network signatures (src/sandbox/signing.ts): G's verification table, variable time.
  const sign_variable_time = rate(() => sm2SignVariableTime(message, keys.private_key_hex));
  const verify = rate(() => {
    if (!sm2Verify(message, signature, keys.public_key_hex)) throw new Error("verify failed");
  });
  const cpu = (await import("node:os")).cpus()[0]?.model ?? "?";
  const row = (operation: string, r: typeof sign, first_cpu_ms: number) => ({
    operation,
    ops: r.ops,
    "per CPU second": r.per_cpu_s.toFixed(0),
    "CPU µs/op": r.cpu_us_per_op.toFixed(0),
    "per wall second": r.per_wall_s.toFixed(0),
    "first call CPU ms": first_cpu_ms.toFixed(1),
    cpu,
  });
  return [row("sign", sign, first_sign_cpu_ms), row("sign, variable time (sandbox)", sign_variable_time, first_variable_time_cpu_ms), row("verify", verify, first_verify_cpu_ms)];
}
