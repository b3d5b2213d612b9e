/**
 * One small RFC 4180 CSV reader for every CSV the project reads (ingest lists, selection.csv,
 * dataset metadata): quoted fields with separators, doubled quotes and newlines inside, CRLF or LF,
 * a UTF-8 BOM; errors name the file and line. No dependency.
 */

/** Parse CSV text into rows of fields. Blank lines are dropped. */
export function parseCsv(text: string, file = '<csv>', sep = ','): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let fieldStarted = false;
  let line = 1;
  const endRow = () => {
    row.push(field);
    if (!(row.length === 1 && row[0] === '' && !fieldStarted)) rows.push(row);
    row = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      if (field.length > 0) throw new Error(`${file}:${line}: a quote inside an unquoted field`);
      inQuotes = true;
      fieldStarted = true;
    } else if (ch === sep) {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
    } else {
      field += ch;
    }
  }
  if (inQuotes) throw new Error(`${file}:${line}: unterminated quoted field`);
  if (field.length > 0 || row.length > 0 || fieldStarted) endRow();
  return rows;
}

/**
 * Map column names to indices if the first row is a header naming at least the `required`
 * columns (case-insensitive, any of the aliases). Returns null when the first row is data.
 */
export function headerIndex(first: string[], columns: Record<string, string[]>, required: string[]): Record<string, number> | null {
  const norm = first.map((c) => c.trim().toLowerCase());
  const out: Record<string, number> = {};
  for (const [key, aliases] of Object.entries(columns)) {
    const idx = norm.findIndex((c) => aliases.includes(c));
    if (idx >= 0) out[key] = idx;
  }
  return required.every((k) => k in out) ? out : null;
}

/** Rows keyed by the (trimmed) header of the first row; values trimmed; missing cells are ''. */
export function parseCsvRecords(text: string, file = '<csv>', sep = ','): Array<Record<string, string>> {
  const rows = parseCsv(text, file, sep);
  if (rows.length === 0) return [];
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((r) => Object.fromEntries(header.map((h, j) => [h, (r[j] ?? '').trim()])));
}

/** Quote a CSV field when it holds a separator, a quote or a line break. */
export function csvField(value: unknown): string {
  const s = value === undefined || value === null ? '' : String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
