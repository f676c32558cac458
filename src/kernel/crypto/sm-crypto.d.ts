// Types for the parts of `sm-crypto` (dev dependency, interop tests only) that paycore's tests use.
declare module "sm-crypto" {
  interface KeyPairHex {
    privateKey: string;
    publicKey: string;
  }
  interface SignatureOptions {
    der?: boolean;
    hash?: boolean;
    publicKey?: string;
    userId?: string;
  }
  interface Sm2 {
    generateKeyPairHex(): KeyPairHex;
    getPublicKeyFromPrivateKey(privateKey: string): string;
    doSignature(message: string | number[], privateKey: string, options?: SignatureOptions): string;
    doVerifySignature(message: string | number[], signature: string, publicKey: string, options?: SignatureOptions): boolean;
    doEncrypt(message: string | number[], publicKey: string, cipherMode?: 0 | 1): string;
    doDecrypt(ciphertext: string, privateKey: string, cipherMode?: 0 | 1, options?: { output?: "string" | "array" }): string;
  }
  type Sm3 = (message: string | number[]) => string;
  interface Sm4 {
    encrypt(input: string | number[], key: string, options?: { mode?: "cbc" | "ecb"; iv?: string; padding?: "pkcs#7" | "none" }): string;
    decrypt(input: string, key: string, options?: { mode?: "cbc" | "ecb"; iv?: string; padding?: "pkcs#7" | "none" }): string;
  }
  const smCrypto: { sm2: Sm2; sm3: Sm3; sm4: Sm4 };
  export default smCrypto;
}
