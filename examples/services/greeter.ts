/**
 * Greets someone in the account's own words: GREETING is an environment variable set under
 * Advanced → Environment variables, sealed at rest and given to this service's workers.
 */
import { defineService, z } from '@runlet/sdk';

export default defineService({
  description: 'Greets `name` with the GREETING environment variable of your account (default "Hello").',
  input: z.object({ name: z.string().min(1).max(100).default('world') }),
  handler: ({ name }) => ({ greeting: `${process.env.GREETING ?? 'Hello'}, ${name}!` }),
});
