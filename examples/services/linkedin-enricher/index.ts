/**
 * The seed's LinkedIn enricher, offline: it "enriches" a bundled sample of fictional profiles
 * (no network), logs progress per profile and answers the seed's output shape.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { defineService, z } from '@runlet/sdk';

const COLUMNS = ['bio', 'location', 'current_job', 'education', 'email'] as const;
type Column = (typeof COLUMNS)[number];
type Profile = { name: string; linkedin_url: string } & Record<Column, string>;

const profiles = JSON.parse(readFileSync(new URL('./profiles.json', import.meta.url), 'utf8')) as Profile[];

/** Lookups that "fail" per sheet: 2 of the 25 bundled profiles, the seed's success rate of 0.92. */
const NOT_FOUND_PER_SHEET = Math.round(profiles.length * 0.08);

export default defineService({
  description: 'Enriches the LinkedIn profiles of a spreadsheet with the requested columns (a bundled offline sample).',
  input: z.object({
    // The seed sends a sheet's id; a sheet's whole URL, as copied from the browser, names the same sheet.
    spreadsheet: z.string().min(1).transform(sheetIdOf),
    include_email: z.boolean().default(false),
    output_columns: z.array(z.enum(COLUMNS)).default(['bio', 'location', 'current_job']),
  }),
  async handler({ spreadsheet, include_email, output_columns }, ctx) {
    // Email is personal data: it goes out only when asked for explicitly, whatever the columns say.
    const columns: Column[] = [...new Set(output_columns)].filter((c) => c !== 'email');
    if (include_email) columns.push('email');
    ctx.logger.info('enrichment started', { spreadsheet, profiles: profiles.length, columns });

    const notFound = notFoundFor(spreadsheet);
    const rows: Record<string, string>[] = [];
    for (const [index, p] of profiles.entries()) {
      // A real lookup takes a moment; a tiny pause keeps the live logs looking like one.
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (notFound.has(index)) {
        ctx.logger.warn('profile not found', { index, name: p.name });
        continue;
      }
      rows.push({ name: p.name, linkedin_url: p.linkedin_url, ...Object.fromEntries(columns.map((c) => [c, p[c]])) });
      ctx.logger.info('enriched profile', { index, name: p.name });
    }

    const processed = profiles.length;
    const successRate = Math.round((rows.length / processed) * 100) / 100;
    return {
      status: 'completed',
      processed_count: processed,
      success_rate: successRate,
      updated_sheet_url: `https://docs.google.com/spreadsheets/d/${encodeURIComponent(spreadsheet)}/edit`,
      summary: [
        '## Enrichment Complete',
        '',
        `✅ **${processed} profiles processed**`,
        `- ${rows.length} enriched (${Math.round(successRate * 100)}%), ${processed - rows.length} not found`,
        `- Columns: ${columns.join(', ') || '(none)'}`,
      ].join('\n'),
      rows,
    };
  },
});

/** The id in a Google Sheets URL (`…/spreadsheets/d/<id>/…`); anything else is taken as the id itself. */
function sheetIdOf(spreadsheet: string): string {
  return /\/spreadsheets\/d\/([A-Za-z0-9_-]+)/.exec(spreadsheet)?.[1] ?? spreadsheet.trim();
}

/** Which profiles are "not found" depends only on the sheet: the same sheet always gives the same answer. */
function notFoundFor(spreadsheet: string): Set<number> {
  const rank = (p: Profile) => createHash('sha256').update(`${spreadsheet}:${p.linkedin_url}`).digest('hex');
  const order = profiles.map((p, index) => ({ index, key: rank(p) })).sort((a, b) => (a.key < b.key ? -1 : 1));
  return new Set(order.slice(0, NOT_FOUND_PER_SHEET).map((o) => o.index));
}
