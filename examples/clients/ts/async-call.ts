// The seed's "Asynchronous calls" TypeScript example, run against Runlet.
// Changed from the seed: the import line; `LinkedInRequest` is declared here (the seed declares
// it in the previous example); and a usage section calls the function, as the Python one does.
import { createServiceClient } from "@runlet/client";

interface LinkedInRequest {
  spreadsheet: string;
  include_email: boolean;
  output_columns: string[];
}

const client = createServiceClient(process.env.CODEWORDS_API_KEY!);

async function enrichProfilesAsync(request: LinkedInRequest) {
  // Start async execution
  const requestId = await client.runAsync(
    "linkedin-enricher",
    "",
    request
  );
  
  console.log(`Started async job: ${requestId}`);
  
  // Wait for results (10 minutes max)
  const result = await client.pollResult(600000);
  
  if (result.responseStatus === 200) {
    return result.responseJson;
  } else {
    throw new Error(`Job failed with status ${result.responseStatus}`);
  }
}

// Usage
const result: any = await enrichProfilesAsync({
  spreadsheet: "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
  include_email: true,
  output_columns: ["bio", "location", "current_job", "education"]
});
console.log(`Async job completed!`);
console.log(`Processed ${result.processed_count} profiles`);
