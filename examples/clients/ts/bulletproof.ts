// The seed's "bulletproof" retry example in TypeScript: try sync first; on a timeout (HTTP
// 504) switch to async and wait for the result; retry other errors with exponential backoff.
// Usage: bulletproof.ts [serviceId] [json input]   (default: my-automation {"input":"data"})
import { createServiceClient } from "@runlet/client";

const client = createServiceClient(process.env.CODEWORDS_API_KEY!);

async function bulletproofCall(serviceId: string, inputs: unknown, maxRetries = 3): Promise<any> {
  for (let attempt = 0; attempt < maxRetries; attempt++) {
    try {
      // Try sync first
      return await client.runService(serviceId, "", inputs);
    } catch (error: any) {
      if (error.response?.status === 504 || /timeout/i.test(String(error.message))) {
        // Switch to async for timeouts
        console.info("Switching to async mode due to timeout...");
        await client.runAsync(serviceId, "", inputs);
        const record = await client.pollResult(600000);
        if (record.responseStatus !== 200) throw new Error(`Job failed with status ${record.responseStatus}`);
        return record.responseJson;
      }
      // Retry on other errors
      if (attempt < maxRetries - 1) {
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt)); // Exponential backoff
        continue;
      }
      throw error;
    }
  }
}

// Usage
try {
  const result = await bulletproofCall(process.argv[2] ?? "my-automation", JSON.parse(process.argv[3] ?? '{"input": "data"}'));
  console.log("Success!", JSON.stringify(result));
} catch (e: any) {
  console.log(`Failed after retries: ${e.message}`);
  process.exitCode = 1;
}

// Runlet's typed client does the switch by itself: `client.run(serviceId, inputs)` meets the
// 504 and waits on that same request instead of starting the work again.
