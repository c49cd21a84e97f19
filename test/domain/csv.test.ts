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
