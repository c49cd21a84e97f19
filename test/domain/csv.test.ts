import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/domain/csv.ts';

describe('parseCsv: records', () => {
  it('reads plain rows with their line numbers', () => {
    expect(parseCsv('alice,agent,pw1\nbob,admin,pw2\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['alice', 'agent', 'pw1'] },
        { line: 2, fields: ['bob', 'admin', 'pw2'] },
      ],
    });
  });

  it('reads a header as the first record, so data starts on line 2', () => {
    const result = parseCsv('username,role,password,skills\nalice,agent,pw,Billing;Sales\n');
    expect(result).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['username', 'role', 'password', 'skills'] },
        { line: 2, fields: ['alice', 'agent', 'pw', 'Billing;Sales'] },
      ],
    });
  });

  it('reads a last row without a line end', () => {
    expect(parseCsv('a,b\nc,d')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['c', 'd'] },
      ],
    });
  });

  it('keeps empty fields, including a trailing one', () => {
    expect(parseCsv('a,,c\nd,e,\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', '', 'c'] },
        { line: 2, fields: ['d', 'e', ''] },
      ],
    });
  });

  it('keeps spaces inside unquoted fields', () => {
    expect(parseCsv(' a , b \n')).toEqual({ ok: true, records: [{ line: 1, fields: [' a ', ' b '] }] });
  });

  it('answers no records for an empty file', () => {
    expect(parseCsv('')).toEqual({ ok: true, records: [] });
    expect(parseCsv('\n\n')).toEqual({ ok: true, records: [] });
  });
});

describe('parseCsv: quoted fields', () => {
  it('reads commas inside quotes', () => {
    expect(parseCsv('a,"b,c",d\n')).toEqual({ ok: true, records: [{ line: 1, fields: ['a', 'b,c', 'd'] }] });
  });

  it('reads a doubled quote as one quote', () => {
    expect(parseCsv('"say ""hi""",x\n')).toEqual({ ok: true, records: [{ line: 1, fields: ['say "hi"', 'x'] }] });
  });

  it('reads an empty quoted field', () => {
    expect(parseCsv('a,"",c\n')).toEqual({ ok: true, records: [{ line: 1, fields: ['a', '', 'c'] }] });
  });

  it('keeps quoted spaces and a quoted password with every special character', () => {
    expect(parseCsv('" padded ","p,a""s\ns"\n')).toEqual({
      ok: true,
      records: [{ line: 1, fields: [' padded ', 'p,a"s\ns'] }],
    });
  });

  it('reads embedded newlines; the record keeps its starting line and the next record counts the newline', () => {
    expect(parseCsv('a,"line one\nline two",b\nc,d\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'line one\nline two', 'b'] },
        { line: 3, fields: ['c', 'd'] },
      ],
    });
  });

  it('counts several embedded newlines', () => {
    const result = parseCsv('h\n"1\n2\n3",x\nnext\n');
    expect(result).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['h'] },
        { line: 2, fields: ['1\n2\n3', 'x'] },
        { line: 5, fields: ['next'] },
      ],
    });
  });
});

describe('parseCsv: line ends, BOM and blank lines', () => {
  it('reads CRLF line ends', () => {
    expect(parseCsv('a,b\r\nc,d\r\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['c', 'd'] },
      ],
    });
  });

  it('counts a CRLF inside quotes as one line', () => {
    const result = parseCsv('a,"x\r\ny"\r\nc\r\n');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.records.map((r) => r.line)).toEqual([1, 3]);
    expect(result.records[1]?.fields).toEqual(['c']);
  });

  it('reads bare CR line ends (old Mac exports), counting one inside quotes like one outside', () => {
    expect(parseCsv('a,b\rc,d\r')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['c', 'd'] },
      ],
    });
    const result = parseCsv('a,"x\ry"\rb\r');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.records.map((r) => r.line)).toEqual([1, 3]);
  });

  it('counts a blank line after a byte-order mark', () => {
    expect(parseCsv('\uFEFF\r\na,b\r\n')).toEqual({ ok: true, records: [{ line: 2, fields: ['a', 'b'] }] });
  });

  it('reads a file whose line ends are mixed', () => {
    expect(parseCsv('a\r\nb\nc\rd')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a'] },
        { line: 2, fields: ['b'] },
        { line: 3, fields: ['c'] },
        { line: 4, fields: ['d'] },
      ],
    });
  });

  it('drops a leading byte-order mark', () => {
    expect(parseCsv('\uFEFFusername,role\nalice,agent\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['username', 'role'] },
        { line: 2, fields: ['alice', 'agent'] },
      ],
    });
  });

  it('skips blank lines but keeps counting them', () => {
    expect(parseCsv('a\n\n\nb\n\n')).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a'] },
        { line: 4, fields: ['b'] },
      ],
    });
    expect(parseCsv('\r\na\r\n\r\nb\r\n')).toEqual({
      ok: true,
      records: [
        { line: 2, fields: ['a'] },
        { line: 4, fields: ['b'] },
      ],
    });
  });
});

describe('parseCsv: errors point at the line', () => {
  it('reports a quote that is never closed, at the line its record starts', () => {
    expect(parseCsv('a,b\nc,"unclosed\nmore\n')).toEqual({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/never closed/),
    });
  });

  it('reports text after a closing quote', () => {
    expect(parseCsv('a,b\n"x"y,z\n')).toEqual({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/after a closing quote/),
    });
  });

  it('reports text after a closing quote on the line where it stands', () => {
    expect(parseCsv('h\n"x\ny" z\n')).toEqual({ ok: false, line: 3, reason: expect.stringMatching(/after a closing quote/) });
  });

  it('counts a CRLF inside quotes as one line before an error', () => {
    // csv-parse alone would say 4, 4 and 5: it counts the CR and the LF inside quotes apart.
    expect(parseCsv('a,"x\r\ny"\r\n"p"q\r\n')).toEqual({ ok: false, line: 3, reason: expect.stringMatching(/after a closing quote/) });
    expect(parseCsv('h\r\n"x\r\ny\r\nz" q\r\n')).toEqual({ ok: false, line: 4, reason: expect.stringMatching(/after a closing quote/) });
    expect(parseCsv('a,"1\r\n2"\r\nb,"3\r\n4"\r\nc,d"e\r\n')).toEqual({ ok: false, line: 5, reason: expect.stringMatching(/middle of an unquoted field/) });
    expect(parseCsv('a,"x\r\ny"\r\n\r\nc,"unclosed\r\n')).toEqual({ ok: false, line: 4, reason: expect.stringMatching(/never closed/) });
  });

  it('reports a quote in the middle of an unquoted field', () => {
    expect(parseCsv('a,b\nc,d"e\n')).toEqual({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/middle of an unquoted field/),
    });
  });

  it('reports a space before an opening quote as a quote in the middle of a field', () => {
    expect(parseCsv('a, "b"\n')).toEqual({ ok: false, line: 1, reason: expect.stringMatching(/middle of an unquoted field/) });
  });
});

describe('parseCsv: any file we write, it reads back with its lines', () => {
  const field = fc.string({ unit: fc.constantFrom('a', 'é', ' ', ',', '"', '\r', '\n', ';'), maxLength: 6 });
  const lineEnd = fc.constantFrom('\r\n', '\n', '\r');
  const row = fc.record({ fields: fc.array(field, { minLength: 1, maxLength: 4 }), blankBefore: fc.nat(2), end: lineEnd, quoteAll: fc.boolean() });

  it('gives back every field and the line each record starts on', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(row, { maxLength: 6 }), (bom, rows) => {
        let text = bom ? '\uFEFF' : '';
        let line = 1;
        // Blank lines end as the line before them did: a CR then an LF would be one CRLF.
        let previousEnd = '\n';
        const expected: { line: number; fields: string[] }[] = [];
        for (const { fields, blankBefore, end, quoteAll } of rows) {
          // A record of one empty field is a blank line: the reader skips it, as it should.
          if (fields.length === 1 && fields[0] === '' && !quoteAll) continue;
          text += previousEnd.repeat(blankBefore);
          line += blankBefore;
          expected.push({ line, fields });
          text += fields.map((f) => (quoteAll || /[",\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(',') + end;
          line += 1 + fields.reduce((n, f) => n + f.split(/\r\n|\r|\n/).length - 1, 0);
          previousEnd = end;
        }
        expect(parseCsv(text)).toEqual({ ok: true, records: expected });
      }),
    );
  });
});
