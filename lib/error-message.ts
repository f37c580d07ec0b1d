// The text of a thrown value, for logs and messages: an Error's message, anything else as a string.
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
