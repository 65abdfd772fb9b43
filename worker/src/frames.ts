// Frame size: the one message limit of both directions (docs/protocol.md), checked without
// copying a frame when its length alone decides.

export const MAX_MESSAGE_BYTES = 64 * 1024;

/** UTF-8 length of a string without encoding it (lone surrogates count 3, as TextEncoder's U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Whether a frame exceeds MAX_MESSAGE_BYTES, without copying it when its length decides. */
export function tooBig(message: string | ArrayBuffer): boolean {
  if (typeof message !== "string") return message.byteLength > MAX_MESSAGE_BYTES;
  // A string's length never exceeds its UTF-8 byte count, nor a third of it.
  if (message.length > MAX_MESSAGE_BYTES) return true;
  if (message.length * 3 <= MAX_MESSAGE_BYTES) return false;
  return utf8Length(message) > MAX_MESSAGE_BYTES;
}
