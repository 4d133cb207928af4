// Types of format.js for the TypeScript tests that import it (the browser loads the .js as it is).
export function formatDuration(ms: unknown): string | null;
export function clockTime(iso: string, now: Date, options?: { seconds?: boolean }): string | null;
export function pendingUntil(iso: string | null | undefined, now: Date): string;
export function formatCount(value: unknown): string | null;
export function formatCredits(value: unknown): string | null;
