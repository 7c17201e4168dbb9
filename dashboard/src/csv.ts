// Dashboard: CSV as spreadsheets read it (RFC 4180 quoting, CRLF), built in the browser from API rows.

/** Quotes a cell when needed; text starting like a formula is prefixed so spreadsheets show it, not run it. */
function cell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One header line and one line per row; numbers keep every digit the API sent, missing values are empty. */
export function toCsv<Column extends string>(
  columns: readonly Column[],
  rows: Partial<Record<Column, string | number | null>>[],
): string {
  const lines = rows.map((row) =>
    columns
      .map((column) => {
        const value = row[column];
        return value === undefined || value === null ? '' : cell(String(value));
      })
      .join(','),
  );
  return `${[columns.join(','), ...lines].join('\r\n')}\r\n`;
}
