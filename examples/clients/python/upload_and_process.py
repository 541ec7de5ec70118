# The seed's "Upload and process pattern" Python example, run against Runlet.
# Changed from the seed: the import line; and the usage, whose top-level `await` only works in
# a notebook or `python -m asyncio`, runs under asyncio.run, with the CSV path as an argument.
import asyncio
import sys

from runlet_client import AsyncCodewordsClient

async def process_my_csv(file_path: str):
    """Upload a local file and process it with CodeWords."""
    
    async with AsyncCodewordsClient() as client:
        # Read your local file
        with open(file_path, 'rb') as f:
            file_content = f.read()
        
        # Upload to CodeWords
        download_url = await client.upload_file_content(
            filename="data.csv",
            file_content=file_content
        )
        
        # Process with your automation
        response = await client.run(
            service_id="csv-processor",
            inputs={
                "csv_file": download_url,
                "processing_options": {"header_row": True}
            }
        )
        return response.json()

# Usage
async def main():
    result = await process_my_csv(sys.argv[1] if len(sys.argv) > 1 else "./my-data.csv")
    print(f"Processed {result['row_count']} rows")

asyncio.run(main())
