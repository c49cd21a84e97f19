import { CsvError, parse } from 'csv-parse/sync';

// RFC 4180 CSV read by csv-parse (its sync API): comma-separated, fields
// optionally in double quotes ("" for a quote inside), CRLF, LF or bare CR
// line ends, a leading byte-order mark dropped, blank lines skipped. What is
// ours is the line numbers: each record keeps the line it starts on, so the
// import can point at it. csv-parse counts a CRLF inside a quoted field as
// two lines (it counts each CR and LF there), so lines are counted here, from
// the byte offsets it reports, with CRLF, LF and CR one line each.

export interface CsvRecord {
  line: number;
  fields: string[];
}

export type CsvResult = { ok: true; records: CsvRecord[] } | { ok: false; line: number; reason: string };

const CR = 0x0d;
const LF = 0x0a;

/** Line ends in bytes[from, to): a CR, or an LF not after a CR (so CRLF counts once, even split across calls). */
function lineEnds(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) {
    if (bytes[i] === CR || (bytes[i] === LF && bytes[i - 1] !== CR)) count++;
  }
  return count;
}

/** Past the blank lines at `offset` (csv-parse skips them): where the next record starts. */
function skipBlank(bytes: Uint8Array, offset: number): number {
  let at = offset;
  while (bytes[at] === CR || bytes[at] === LF) at++;
  return at;
}

const reasons: Partial<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected text after a closing quote',
  INVALID_OPENING_QUOTE: 'a quote in the middle of an unquoted field',
};

export function parseCsv(text: string): CsvResult {
  const bytes = Buffer.from(text, 'utf8');
  const records: CsvRecord[] = [];
  // Where the last record ended (its line end included) and the line there;
  // csv-parse's offsets count the byte-order mark it drops.
  let end = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let endLine = 1;
  // How many lines csv-parse has counted beyond ours so far.
  let excess = 0;
  try {
    parse(bytes, {
      bom: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (fields: string[], context) => {
        const start = skipBlank(bytes, end);
        const line = endLine + lineEnds(bytes, end, start);
        records.push({ line, fields });
        const next = line + lineEnds(bytes, start, context.bytes);
        // context.lines is the line of the record's last character, before its line end.
        const closed = bytes[context.bytes - 1] === CR || bytes[context.bytes - 1] === LF;
        excess = context.lines - (closed ? next - 1 : next);
        end = context.bytes;
        endLine = next;
        // Kept above, with its line; csv-parse need not keep a second list.
        return null;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const start = skipBlank(bytes, end);
    const line = endLine + lineEnds(bytes, end, start);
    const reason = reasons[error.code] ?? 'unreadable CSV';
    // An unclosed quote is reported where its record starts; anything else
    // where csv-parse stopped, which is within this record: every line end
    // before it is inside quotes, where csv-parse counted a CRLF twice.
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') return { ok: false, line, reason };
    const counted = typeof error.lines === 'number' ? error.lines - excess - line : 0;
    let seen = 0;
    let doubled = 0;
    for (let i = start; seen < counted && i < bytes.length; i++) {
      if (bytes[i] === CR || bytes[i] === LF) seen++;
      if (bytes[i] === LF && bytes[i - 1] === CR) doubled++;
    }
    return { ok: false, line: line + counted - doubled, reason };
  }
  return { ok: true, records };
}
