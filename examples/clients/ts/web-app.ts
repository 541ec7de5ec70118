// The seed's "Integrating with web apps" example, in the shape of the Flask one, as a plain
// node:http server: POST /analyze-spreadsheet {"spreadsheet_id": "..."} calls linkedin-enricher
// behind the scenes. Listens on PORT (default 5000).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServiceClient, RunTimeoutError } from "@runlet/client";

const client = createServiceClient(process.env.CODEWORDS_API_KEY!);

function jsonify(res: ServerResponse, body: unknown, status = 200) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<any> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text || "{}");
  } catch {
    return {};
  }
}

/** API endpoint that calls Runlet behind the scenes. */
async function analyzeSpreadsheet(req: IncomingMessage, res: ServerResponse) {
  const data = await readJson(req);
  const spreadsheetId = data?.spreadsheet_id;

  if (!spreadsheetId) {
    return jsonify(res, { error: "spreadsheet_id required" }, 400);
  }

  try {
    const result = await client.runService("linkedin-enricher", "", {
      spreadsheet: spreadsheetId,
      include_email: false,
      output_columns: ["bio", "location", "current_job"],
    });
    return jsonify(res, result);
  } catch (error: any) {
    if (error instanceof RunTimeoutError) {
      return jsonify(res, { error: "Analysis timed out" }, 408);
    }
    return jsonify(res, { error: String(error.message ?? error) }, 500);
  }
}

const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/analyze-spreadsheet") {
    void analyzeSpreadsheet(req, res);
  } else {
    jsonify(res, { error: "not found" }, 404);
  }
});

const port = Number(process.env.PORT ?? 5000);
server.listen(port, "127.0.0.1", () => console.log(`Running on http://127.0.0.1:${port}`));
