// Shared by the auth tests: a capturing pino logger, temp dirs, and an openssl PKI.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose lines are kept in memory. */
export function captureLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "trace" },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

export const WARN = 40;
export const ERROR = 50;

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") {
      throw new Error(
        "the openssl CLI is required by the TLS tests and is missing (apt-get install openssl)",
      );
    }
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

export interface Pki {
  dir: string;
  /** Paths of `<name>.crt` / `<name>.key`. */
  cert(name: string): string;
  key(name: string): string;
  /** A CA: `<name>.crt`, `<name>.key`. */
  makeCa(name: string): void;
  /** A leaf signed by `ca`, SAN IP:127.0.0.1 + DNS:localhost + DNS:<name>, the given EKU. */
  makeLeaf(name: string, ca: string, eku?: string): void;
}

/** An openssl-made PKI in `dir` (EC P-256 keys, one day of validity). */
export function makePki(dir: string): Pki {
  const cert = (name: string) => join(dir, `${name}.crt`);
  const key = (name: string) => join(dir, `${name}.key`);
  let serial = 1;
  return {
    dir,
    cert,
    key,
    makeCa(name) {
      openssl(
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          key(name),
          "-out",
          cert(name),
          "-days",
          "1",
          "-subj",
          `/CN=${name}`,
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
      );
    },
    makeLeaf(name, ca, eku = "serverAuth,clientAuth") {
      const ext = join(dir, `${name}.ext`);
      writeFileSync(
        ext,
        `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${name}\n` +
          `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\n`,
      );
      const csr = join(dir, `${name}.csr`);
      openssl(
        [
          "req",
          "-new",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          key(name),
          "-out",
          csr,
          "-subj",
          `/CN=${name}`,
        ],
        dir,
      );
      openssl(
        [
          "x509",
          "-req",
          "-in",
          csr,
          "-CA",
          cert(ca),
          "-CAkey",
          key(ca),
          "-set_serial",
          String(serial++),
          "-days",
          "1",
          "-out",
          cert(name),
          "-extfile",
          ext,
        ],
        dir,
      );
    },
  };
}
