// A strict, small JSON reader for JWT headers and payloads: the twin of verifier/json.go.
// JSON.parse keeps the last of duplicate keys and cannot tell 1 from 1.0, so the token rules of
// docs/reason-codes.md need their own reader. Any change here must be made there too; the shared
// vectors in testdata/vectors/handshake.json hold the two to the same verdicts.

export const MAX_DEPTH = 32;

export type Kind = "string" | "number" | "object" | "array" | "true" | "false" | "null";

export interface Value {
  kind: Kind;
  /** Decoded string (lone surrogates become U+FFFD, as in Go). */
  str?: string;
  /** Raw number text. */
  num?: string;
  /** Array elements. */
  items?: Value[];
  /** The member's exact source text (top-level members only), to pass a value on verbatim. */
  raw?: string;
}

export class JSONError extends Error {}

const fail = (): never => {
  throw new JSONError("invalid JSON");
};

/** Parses text that must be exactly one JSON object; returns its members by decoded key. */
export function parseTopObject(text: string): Map<string, Value> {
  const p = new Parser(text);
  p.ws();
  const members = new Map<string, Value>();
  p.object(0, members);
  p.ws();
  if (p.i !== text.length) fail();
  return members;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.i++;
      else return;
    }
  }

  object(depth: number, top?: Map<string, Value>): void {
    if (depth >= MAX_DEPTH || this.s[this.i] !== "{") fail();
    this.i++;
    const folded = new Set<string>();
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.str();
      const f = asciiLower(key);
      if (folded.has(f)) fail(); // duplicates refused at every depth, ASCII case-folded
      folded.add(f);
      this.ws();
      if (this.s[this.i] !== ":") fail();
      this.i++;
      this.ws();
      const start = this.i;
      const v = this.value(depth + 1);
      if (top) {
        v.raw = this.s.slice(start, this.i);
        top.set(key, v);
      }
      this.ws();
      const c = this.s[this.i++];
      if (c === ",") continue;
      if (c === "}") return;
      fail();
    }
  }

  array(depth: number): Value[] {
    if (depth >= MAX_DEPTH) fail();
    this.i++;
    const items: Value[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return items;
    }
    for (;;) {
      this.ws();
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ",") continue;
      if (c === "]") return items;
      fail();
    }
  }

  value(depth: number): Value {
    const c = this.s[this.i];
    if (c === '"') return { kind: "string", str: this.str() };
    if (c === "{") {
      this.object(depth);
      return { kind: "object" };
    }
    if (c === "[") return { kind: "array", items: this.array(depth) };
    if (c === "t") return this.lit("true");
    if (c === "f") return this.lit("false");
    if (c === "n") return this.lit("null");
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return { kind: "number", num: this.num() };
    return fail();
  }

  lit(word: "true" | "false" | "null"): Value {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return { kind: word };
    }
    return fail();
  }

  digits(): number {
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] >= "0" && this.s[this.i] <= "9") this.i++;
    return this.i - start;
  }

  num(): string {
    const start = this.i;
    if (this.s[this.i] === "-") this.i++;
    if (this.s[this.i] === "0") this.i++;
    else if (this.digits() === 0) fail();
    if (this.s[this.i] === ".") {
      this.i++;
      if (this.digits() === 0) fail();
    }
    if (this.s[this.i] === "e" || this.s[this.i] === "E") {
      this.i++;
      if (this.s[this.i] === "+" || this.s[this.i] === "-") this.i++;
      if (this.digits() === 0) fail();
    }
    return this.s.slice(start, this.i);
  }

  /** Reads a string token and returns it decoded. */
  str(): string {
    if (this.s[this.i] !== '"') fail();
    this.i++;
    const units: number[] = [];
    for (;;) {
      if (this.i >= this.s.length) fail();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return fromUnits(units);
      }
      if (c < 0x20) fail();
      if (c !== 0x5c) {
        units.push(c);
        this.i++;
        continue;
      }
      this.i++;
      const e = this.s[this.i++];
      switch (e) {
        case '"': units.push(0x22); break;
        case "\\": units.push(0x5c); break;
        case "/": units.push(0x2f); break;
        case "b": units.push(0x08); break;
        case "f": units.push(0x0c); break;
        case "n": units.push(0x0a); break;
        case "r": units.push(0x0d); break;
        case "t": units.push(0x09); break;
        case "u": {
          const hex = this.s.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
          units.push(parseInt(hex, 16));
          this.i += 4;
          break;
        }
        default:
          fail();
      }
    }
  }
}

/** UTF-16 units to a string, with lone surrogates replaced by U+FFFD (Go's behaviour). */
function fromUnits(u: number[]): string {
  let out = "";
  for (let i = 0; i < u.length; i++) {
    const c = u[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < u.length && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
      out += String.fromCharCode(c, u[i + 1]);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += "\ufffd";
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}
