/**
 * SM2 on one core: signatures and verifications per second with the standard user ID, over a
 * message the size of a network request. `npm run bench -- sm2`. Prints a table; asserts nothing.
 */
import { generateSm2KeyPair, sm2Sign, sm2Verify } from "../src/kernel/crypto/sm2.ts";

const SECONDS = Number(process.env.BENCH_SM2_SECONDS ?? 3);

function rate(fn: () => void): { ops: number; per_s: number } {
  for (let i = 0; i < 50; i++) fn(); // warm-up: JIT, per-key tables
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let ops = 0;
  while (performance.now() < until) {
    fn();
    ops += 1;
  }
  return { ops, per_s: (ops * 1000) / (performance.now() - started) };
}

export async function benchSm2(): Promise<Record<string, string | number>[]> {
  const keys = generateSm2KeyPair();
  const message = `<root><MsgHeader>${"x".repeat(200)}</MsgHeader><MsgBody>${"支付".repeat(150)}</MsgBody></root>`;
  const signature = sm2Sign(message, keys.private_key_hex);
  if (!sm2Verify(message, signature, keys.public_key_hex)) throw new Error("SM2 round trip failed");
  const sign = rate(() => sm2Sign(message, keys.private_key_hex));
  const verify = rate(() => {
    if (!sm2Verify(message, signature, keys.public_key_hex)) throw new Error("verify failed");
  });
  const cpu = (await import("node:os")).cpus()[0]?.model ?? "?";
  return [
    { operation: "sign", ops: sign.ops, "per second": sign.per_s.toFixed(0), cpu },
    { operation: "verify", ops: verify.ops, "per second": verify.per_s.toFixed(0), cpu },
  ];
}
