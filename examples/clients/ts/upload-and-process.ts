// The seed's "Upload and process" pattern in TypeScript: upload a local CSV, then run
// csv-processor on its download URL. Usage: upload-and-process.ts [path/to/file.csv]
import { readFile } from "node:fs/promises";
import { createServiceClient } from "@runlet/client";

const client = createServiceClient(process.env.CODEWORDS_API_KEY!);

async function processMyCsv(filePath: string) {
  // Read your local file
  const fileContent = await readFile(filePath);

  // Upload it: the answer is a download URL any service can read
  const downloadUrl = await client.uploadFileAndGetUrl(fileContent, "data.csv");

  // Process with your automation
  return client.runService("csv-processor", "", {
    csv_file: downloadUrl,
    processing_options: { header_row: true },
  });
}

// Usage
const result = await processMyCsv(process.argv[2] ?? "./my-data.csv");
console.log(`Processed ${result.row_count} rows`);
