# The seed's "Error handling best practices" (bulletproof retry) Python example, run against Runlet.
# Changed from the seed: the import line; and the usage, whose top-level `await` only works in
# a notebook or `python -m asyncio`, runs under asyncio.run, with logging at INFO so the switch
# to async shows.
from runlet_client import AsyncCodewordsClient
import asyncio
import logging

async def bulletproof_call(
    service_id: str, 
    inputs: dict, 
    max_retries: int = 3
):
    """Make a robust call with automatic retry and timeout handling."""
    
    async with AsyncCodewordsClient() as client:
        for attempt in range(max_retries):
            try:
                # Try sync first
                response = await client.run(
                    service_id=service_id,
                    inputs=inputs
                )
                return response.json()
                
            except Exception as e:
                if "timeout" in str(e).lower() or "504" in str(e):
                    # Switch to async for timeouts
                    logging.info("Switching to async mode due to timeout...")
                    handle = await client.run(
                        service_id=service_id,
                        inputs=inputs,
                        in_background=True
                    )
                    response = await handle.result(timeout_seconds=600)
                    return response.json()
                
                # Retry on other errors
                if attempt < max_retries - 1:
                    await asyncio.sleep(2 ** attempt)  # Exponential backoff
                    continue
                raise

# Usage
async def main():
    try:
        result = await bulletproof_call("my-automation", {"input": "data"})
        print("Success!")
        print(result)
    except Exception as e:
        print(f"Failed after retries: {e}")

logging.basicConfig(level=logging.INFO)
asyncio.run(main())
