import { createHash, randomBytes } from "node:crypto";

/**
 * Statement files ready for download. The signed statement answer names the file and carries its
 * SHA-256 and size; the file itself is fetched with a plain GET next to the message endpoint
 * (`/netsunion/files/<name>`, `/unionpay/gateway/api/files/<name>`), as the networks hand files out
 * over their file servers. The last `files_max` files are kept (in memory: the sandbox's files
 * are bounded by its statement limit).
 */
export interface PublishedFile {
  name: string;
  sha256: string;
  bytes: number;
}

const FILES_MAX = 32;
export const STATEMENT_FILE_NAME = /^[A-Za-z0-9_.-]{1,96}$/;

export class StatementFiles {
  private readonly files = new Map<string, Buffer>();

  publish(network: string, date: string, text: string): PublishedFile {
    const body = Buffer.from(text, "utf8");
    const name = `${network}-${date.replace(/-/g, "")}-${randomBytes(8).toString("hex")}.txt`;
    this.files.set(name, body);
    while (this.files.size > FILES_MAX) this.files.delete(this.files.keys().next().value!);
    return { name, sha256: createHash("sha256").update(body).digest("hex"), bytes: body.length };
  }

  get(name: string): Buffer | null {
    return STATEMENT_FILE_NAME.test(name) ? (this.files.get(name) ?? null) : null;
  }
}
