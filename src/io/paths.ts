/** Paths taken from inside a model file (zip entries, weight shards) are untrusted. */

/** True when the name would land outside the folder it is resolved against: '..', absolute paths, drive letters, NUL. */
export function escapesFolder(name: string): boolean {
  return name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || name.includes('\0') || name.split(/[\\/]/).includes('..');
}
