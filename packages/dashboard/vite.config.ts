import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built to dist/ (git-ignored) and served by the Runlet server; assets get hashed names.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
});
