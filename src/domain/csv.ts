// A small RFC 4180 reader: comma-separated, fields optionally in double
// quotes ("" for a quote inside), CRLF or LF line ends. Each record keeps the
// line it starts on, so errors can point at it.

export interface CsvRecord {
  line: number;
  fields: string[];
}

export type CsvResult = { ok: true; records: CsvRecord[] } | { ok: false; line: number; reason: string };

export function parseCsv(text: string): CsvResult {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let afterQuote = false;
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text;

  const endRecord = () => {
    fields.push(field);
    // Blank lines are skipped, not reported.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    afterQuote = false;
  };

  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (quoted) {
      if (c === '"') {
        if (input[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        // Count line ends as outside quotes do: LF, CRLF (once) and a bare CR.
        if (c === '\n' || (c === '\r' && input[i + 1] !== '\n')) line++;
        field += c;
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      afterQuote = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && input[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (afterQuote) {
      return { ok: false, line, reason: 'unexpected text after a closing quote' };
    } else if (c === '"') {
      if (field !== '') return { ok: false, line, reason: 'a quote in the middle of an unquoted field' };
      quoted = true;
    } else {
      field += c;
    }
  }
  if (quoted) return { ok: false, line: recordLine, reason: 'a quoted field is never closed' };
  if (field !== '' || fields.length > 0) endRecord();
  return { ok: true, records };
}
