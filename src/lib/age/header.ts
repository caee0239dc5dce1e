import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { AgeError } from "./errors.js";
import type { Stanza } from "./keys.js";

const VERSION_LINE = "age-encryption.org/v1";
const COLUMNS = 64;
/** A header is a few hundred bytes per recipient; anything this long without its MAC line is not an age file. */
export const MAX_HEADER_BYTES = 64 * 1024;
const ARGUMENT = /^[\x21-\x7e]+$/;
const BODY_LINE = /^[A-Za-z0-9+/]*$/;
const MAC_LINE = /^--- ([A-Za-z0-9+/]{43})$/;

export interface Header {
  stanzas: Stanza[];
  /** The header up to and including `---`: what the MAC covers. */
  macInput: Buffer;
  mac: Buffer;
  /** Bytes of the header, its final LF included: the payload starts there. */
  length: number;
}

function headerMac(fileKey: Buffer, macInput: Buffer): Buffer {
  const key = Buffer.from(hkdfSync("sha256", fileKey, Buffer.alloc(0), "header", 32));
  return createHmac("sha256", key).update(macInput).digest();
}

export function encodeHeader(stanzas: Stanza[], fileKey: Buffer): Buffer {
  const lines = [VERSION_LINE];
  for (const stanza of stanzas) {
    lines.push(`-> ${[stanza.type, ...stanza.args].join(" ")}`);
    const body = encodeBase64(stanza.body);
    // The body ends with a line shorter than 64 columns, empty when it fills its last line.
    for (let at = 0; at <= body.length; at += COLUMNS) lines.push(body.slice(at, at + COLUMNS));
  }
  const macInput = Buffer.from(`${lines.join("\n")}\n---`, "latin1");
  return Buffer.concat([macInput, Buffer.from(` ${encodeBase64(headerMac(fileKey, macInput))}\n`, "latin1")]);
}

/** Throws unless the header's MAC, keyed by the unwrapped file key, matches: a changed header is refused. */
export function checkHeaderMac(header: Header, fileKey: Buffer): void {
  if (!timingSafeEqual(headerMac(fileKey, header.macInput), header.mac)) {
    throw new AgeError("mac", "the header's MAC does not match (the header was altered)");
  }
}

/** Where the header ends in `buffer` (after the MAC line's LF), or -1 when more bytes are needed. */
export function headerEnd(buffer: Buffer): number {
  const mark = buffer.indexOf("\n---");
  if (mark < 0) return -1;
  const eol = buffer.indexOf(0x0a, mark + 1);
  return eol < 0 ? -1 : eol + 1;
}

/** Parses a complete header (`headerEnd` found its end) strictly: anything else than the grammar is refused. */
export function parseHeader(bytes: Buffer): Header {
  for (const byte of bytes) {
    if (byte !== 0x0a && (byte < 0x20 || byte > 0x7e)) throw new AgeError("header", "the header has a control byte");
  }
  const lines = bytes.toString("latin1").slice(0, -1).split("\n");
  if (lines[0] !== VERSION_LINE) throw new AgeError("header", "not an age v1 file (unknown version line)");
  const stanzas: Stanza[] = [];
  let i = 1;
  while (i < lines.length - 1) {
    const { stanza, next } = parseStanza(lines, i);
    stanzas.push(stanza);
    i = next;
  }
  const match = MAC_LINE.exec(lines[i] ?? "");
  if (!match || i !== lines.length - 1) throw new AgeError("header", "the header's MAC line is malformed");
  if (stanzas.length === 0) throw new AgeError("header", "the header has no recipient stanza");
  const encodedMac = match[1] as string;
  const mac = decodeBase64(encodedMac, "the header's MAC");
  // The MAC covers everything up to "---": the space, the MAC and the LF are not part of it.
  return { stanzas, macInput: bytes.subarray(0, bytes.length - 2 - encodedMac.length), mac, length: bytes.length };
}

function parseStanza(lines: string[], start: number): { stanza: Stanza; next: number } {
  const argLine = lines[start] as string;
  if (!argLine.startsWith("-> ")) throw new AgeError("header", "a header line is neither a stanza nor the MAC");
  const args = argLine.slice(3).split(" ");
  if (!args.every((arg) => ARGUMENT.test(arg))) throw new AgeError("header", "a stanza has an empty argument");
  let body = "";
  let i = start + 1;
  for (; ; i++) {
    // The last line is the MAC line: a body running into it lacks its final short line.
    if (i >= lines.length - 1) throw new AgeError("header", "a stanza body has no final short line");
    const line = lines[i] as string;
    if (!BODY_LINE.test(line) || line.length > COLUMNS) throw new AgeError("header", "a stanza body line is malformed");
    body += line;
    if (line.length < COLUMNS) break;
  }
  const [type, ...rest] = args as [string, ...string[]];
  return { stanza: { type, args: rest, body: decodeBase64(body, "a stanza body") }, next: i + 1 };
}
