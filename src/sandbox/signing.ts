import { sm2SignVariableTime } from "../kernel/crypto/sm2.ts";

/**
 * The SM2 signature of a message the sandbox sends as a network (answers, notifications, statement
 * answers): the same signature format, verified by paycore, OpenSSL and sm-crypto alike, computed
 * with the variable-time signer (src/kernel/crypto/sm2.ts `sm2SignVariableTime`): about 40 % less
 * CPU per signature than the constant-time one, two signatures per payment. Its nonces index G's
 * table directly, so cache timing could reveal the key to a process on the same machine; the
 * sandbox's network keys protect nothing (a simulated network, whose control API hands out SMS
 * codes and card balances to anyone). paycore's own keys, and the CNAPS messages paycore's kernel
 * signs, stay on the constant-time signer.
 */
export function signAsNetwork(message: string, private_key_hex: string): Buffer {
  return sm2SignVariableTime(message, private_key_hex);
}
