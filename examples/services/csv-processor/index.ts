/**
 * The seed's upload-and-process example: reads the CSV at `csv_file` (a Runlet download URL,
 * or any http(s) or data: URL) and answers its row count and columns.
 */
import { parse } from 'csv-parse/sync';
import { defineService, HttpError, z } from '@runlet/sdk';

export default defineService({
  description: 'Counts the rows and names the columns of a CSV file given by URL.',
  input: z.object({
    csv_file: z.string().url(),
    processing_options: z
      .object({ header_row: z.boolean().default(true), delimiter: z.string().length(1).default(',') })
      .default({ header_row: true, delimiter: ',' }),
  }),
  async handler({ csv_file, processing_options: { header_row, delimiter } }, ctx) {
    const response = await fetch(csv_file).catch((err: Error) => {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND...) is in its cause.
      const cause = (err.cause as { code?: string; message?: string } | undefined) ?? {};
      throw new HttpError(422, { error: `could not download csv_file: ${cause.code ?? cause.message ?? err.message}` });
    });
    if (!response.ok) throw new HttpError(422, { error: `downloading csv_file answered HTTP ${response.status}` });
    const text = await response.text();
    ctx.logger.info('downloaded', { bytes: Buffer.byteLength(text) });
    if (text.trim() === '') throw new HttpError(422, { error: 'csv_file is empty' });

    let records: string[][];
    try {
      records = parse(text, { delimiter, skip_empty_lines: true, relax_column_count: true, bom: true });
    } catch (err) {
      throw new HttpError(422, { error: `csv_file is not valid CSV: ${(err as Error).message}` });
    }
    const width = Math.max(0, ...records.map((r) => r.length));
    const columns = header_row && records.length > 0 ? records[0]! : Array.from({ length: width }, (_, i) => `column_${i + 1}`);
    const rows = header_row ? records.slice(1) : records;
    ctx.logger.info('parsed', { rows: rows.length, columns: columns.length });
    return {
      row_count: rows.length,
      columns,
      preview: rows.slice(0, 5).map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null]))),
    };
  },
});
