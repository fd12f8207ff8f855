/**
 * Errors the user can act on. `exitCode` follows the CLI contract:
 * 2 = usage or input error (bad config, unreadable model, hostile file), 1 is reserved for a failed gate.
 */
const MAX_MESSAGE_CHARS = 4000;

export class ModelGateError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    // Messages quote names and values from hostile files; one of 300,000 characters helps nobody and bloats every report.
    super(message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length - MAX_MESSAGE_CHARS} more characters)` : message, options);
    this.name = 'ModelGateError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs a reader of a hostile file: anything it throws that is not already a ModelGateError (a
 * library's TypeError or plain Error on input it did not expect) becomes one naming the file.
 */
export async function readingFile<T>(file: string, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ModelGateError) throw err;
    throw new ModelGateError(`${file}: cannot read the ${what} (${errorMessage(err).split('\n')[0]})`, { cause: err });
  }
}
