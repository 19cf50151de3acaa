/** What the table reads of a check: its metadata (harness/checks/types.ts, CheckMeta). */
export interface CheckTableEntry {
  meta: { id: string; kind: string; level?: string; title: string; reads: readonly string[]; description: string };
}

export const BEGIN: string;
export const END: string;
export function checksTable(checks: readonly CheckTableEntry[]): string;
export function tableIn(markdown: string): string;
export function withTable(markdown: string, table: string): string;
