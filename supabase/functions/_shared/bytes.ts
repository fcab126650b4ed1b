// Byte arrays joined in one.

/** The parts, one after another, in one new array (the only part itself when there is one). */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  let size = 0
  for (const part of parts) size += part.byteLength
  const bytes = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    bytes.set(part, at)
    at += part.byteLength
  }
  return bytes
}
