/**
 * Errors the user can act on. `exitCode` follows the CLI contract:
 * 2 = usage or input error (bad config, unreadable model, hostile file), 1 is reserved for a failed gate.
 */
export class ModelGateError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelGateError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
