// A dependency-free table formatter: left-aligned columns separated by two spaces, upper-case
// headers, no trailing whitespace.

export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => displayWidth(r[i] ?? ""))),
  );
  const line = (cells: readonly string[]) =>
    headers
      .map((_, i) => {
        const cell = cells[i] ?? "";
        return i === headers.length - 1 ? cell : cell + " ".repeat(widths[i]! - displayWidth(cell));
      })
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** Width in terminal columns (code points; good enough for the ASCII this tool prints). */
function displayWidth(s: string): number {
  return [...s].length;
}
