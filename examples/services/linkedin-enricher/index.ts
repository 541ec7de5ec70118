/**
 * The seed's LinkedIn enricher, offline: it "enriches" a bundled sample of fictional profiles
 * (no network), logs progress per profile and answers the seed's output shape.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { defineService, z } from '@runlet/sdk';

const COLUMNS = ['bio', 'location', 'current_job', 'education', 'email'] as const;
type Column = (typeof COLUMNS)[number];
type Profile = { name: string; profile: string } & Record<Column, string>;

const profiles = JSON.parse(readFileSync(new URL('./profiles.json', import.meta.url), 'utf8')) as Profile[];

export default defineService({
  description: 'Enriches the LinkedIn profiles of a spreadsheet with the requested columns (a bundled offline sample).',
  input: z.object({
    spreadsheet: z.string().min(1),
    include_email: z.boolean().default(false),
    output_columns: z.array(z.enum(COLUMNS)).default(['bio', 'location', 'current_job']),
  }),
  async handler({ spreadsheet, include_email, output_columns }, ctx) {
    const columns = output_columns.filter((c) => c !== 'email' || include_email);
    if (include_email && !columns.includes('email')) columns.push('email');
    ctx.logger.info('enrichment started', { spreadsheet, profiles: profiles.length, columns });
    const rows: Record<string, string>[] = [];
    let failed = 0;
    for (const [index, p] of profiles.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      // Which lookups "fail" depends only on the sheet, so the same sheet always gives the same answer.
      if (lookupFails(spreadsheet, p.profile)) {
        failed++;
        ctx.logger.warn('profile not found', { index, name: p.name });
        continue;
      }
      rows.push({ name: p.name, profile: p.profile, ...Object.fromEntries(columns.map((c) => [c, p[c]])) });
      ctx.logger.info('enriched profile', { index, name: p.name });
    }
    const processed = profiles.length;
    const successRate = Math.round(((processed - failed) / processed) * 100) / 100;
    return {
      status: 'completed',
      processed_count: processed,
      success_rate: successRate,
      updated_sheet_url: `https://docs.google.com/spreadsheets/d/${encodeURIComponent(spreadsheet)}/edit`,
      summary: [
        '## Enrichment Complete',
        '',
        `✅ **${processed} profiles processed**`,
        `- ${processed - failed} enriched (${Math.round(successRate * 100)}%), ${failed} not found`,
        `- Columns: ${columns.join(', ')}`,
      ].join('\n'),
      rows,
    };
  },
});

/** About one profile in twelve is "not found" (a success rate near the seed's 0.92). */
function lookupFails(spreadsheet: string, profile: string): boolean {
  return createHash('sha256').update(`${spreadsheet}:${profile}`).digest()[0]! < 256 / 12;
}
