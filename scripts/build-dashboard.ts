/**
 * Builds the dashboard (packages/dashboard → dist/) when its build is missing or older than its
 * sources, so `npm start` on a fresh clone serves it; a current build is left alone (instant).
 */
import { ensureDashboardBuilt } from '../packages/dashboard/build.js';

const built = ensureDashboardBuilt();
if (built) console.log('Built the dashboard.');
