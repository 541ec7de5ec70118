import asyncio
import os
import tempfile
import unittest
import urllib.request

from runlet_client import (
    AsyncCodewordsClient,
    AuthError,
    HTTPStatusError,
    NotFoundError,
    RunFailedError,
    RunTimeoutError,
    ServiceError,
    SyncTimeoutError,
)

from .support import KEY, SHORT_KEY, SHORT_URL, URL, CuttingProxy, one_time_key


def client(**kwargs) -> AsyncCodewordsClient:
    kwargs.setdefault("base_url", URL)
    kwargs.setdefault("api_key", KEY)
    return AsyncCodewordsClient(**kwargs)


class AuthTest(unittest.IsolatedAsyncioTestCase):
    async def test_bearer_and_bare_keys_both_work(self):
        for scheme in ("bearer", "bare"):
            async with client(auth_scheme=scheme) as c:
                response = await c.run(service_id="echo-input", inputs={"scheme": scheme})
                self.assertEqual(response.json()["input"], {"scheme": scheme})

    async def test_key_and_url_from_the_environment(self):
        saved = {k: os.environ.get(k) for k in ("CODEWORDS_API_KEY", "CODEWORDS_RUNTIME_URI", "RUNLET_URL")}
        try:
            os.environ["CODEWORDS_API_KEY"] = KEY
            os.environ["CODEWORDS_RUNTIME_URI"] = URL + "/"
            os.environ["RUNLET_URL"] = "http://127.0.0.1:1"
            async with AsyncCodewordsClient() as c:
                self.assertEqual(c.base_url, URL)
                self.assertEqual(c.get_api_key_type(), "standard")
                self.assertEqual((await c.run(service_id="echo-input", inputs=[1])).json()["input"], [1])
            del os.environ["CODEWORDS_API_KEY"]
            with self.assertRaisesRegex(ValueError, "CODEWORDS_API_KEY"):
                AsyncCodewordsClient()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    async def test_an_unknown_key_is_an_auth_error(self):
        async with client(api_key="cwk-not-a-key") as c:
            with self.assertRaises(AuthError) as caught:
                await c.run(service_id="echo-input", inputs={})
        self.assertEqual(caught.exception.status_code, 401)
        self.assertEqual(caught.exception.code, "AUTH_INVALID")

    async def test_a_one_time_key_runs_once_then_reads_only_its_run(self):
        async with client(api_key=one_time_key()) as c:
            self.assertEqual(c.get_api_key_type(), "one_time")
            handle = await c.run(service_id="ticker", inputs={"count": 2, "intervalMs": 1}, in_background=True)
            self.assertEqual((await handle.result(timeout_seconds=30)).json(), {"ticks": 2})
            self.assertEqual([l["message"] for l in [x async for x in handle.logs()]], ["tick 1", "tick 2"])
            self.assertEqual((await handle.details())["status"], "completed")
            with self.assertRaises(AuthError) as caught:
                await c.run(service_id="echo-input", inputs={})
            self.assertEqual(caught.exception.code, "KEY_SPENT")
            self.assertEqual(caught.exception.status_code, 403)
        async with client(api_key=one_time_key()) as c:
            response = await c.run(service_id="echo-input", inputs={"sync": True})
            self.assertEqual(response.json()["input"], {"sync": True})
            self.assertEqual((await c.get_request_details(response.request_id))["status"], "completed")


class SyncRunTest(unittest.IsolatedAsyncioTestCase):
    async def test_the_answer_is_the_services_own(self):
        async with client() as c:
            response = await c.run(service_id="echo-input", inputs={"a": 1}, path="/deep/er", correlation_id="corr-9")
        response.raise_for_status()
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["input"], {"a": 1})
        self.assertEqual(body["path"], "deep/er")
        self.assertEqual(body["correlationId"], "corr-9")
        self.assertEqual(response.request_id, body["requestId"])
        self.assertIn('"a": 1', response.text.replace('"a":1', '"a": 1'))

    async def test_bytes_go_as_they_are(self):
        async with client() as c:
            body = (await c.run(service_id="echo-input", inputs=b"raw bytes")).json()
        self.assertEqual(body["input"], "raw bytes")
        self.assertEqual(body["contentType"], "application/octet-stream")

    async def test_a_service_error_carries_status_and_body(self):
        async with client() as c:
            with self.assertRaises(ServiceError) as caught:
                await c.run(service_id="refuse", inputs={"status": 422, "message": "bad sheet"})
        err = caught.exception
        self.assertIsInstance(err, HTTPStatusError)
        self.assertEqual(err.status_code, 422)
        self.assertEqual(err.json(), {"error": "bad sheet", "status": 422})
        self.assertIn("422", str(err))
        self.assertIsNone(err.code)

    async def test_unknown_service_and_request_are_not_found(self):
        async with client() as c:
            with self.assertRaises(NotFoundError) as caught:
                await c.run(service_id="no-such-service", inputs={})
            self.assertEqual(caught.exception.code, "SERVICE_NOT_FOUND")
            with self.assertRaises(NotFoundError):
                await c.get_request_details("req_nope")

    async def test_a_sync_504_is_a_timeout_error_carrying_the_request_id(self):
        async with AsyncCodewordsClient(base_url=SHORT_URL, api_key=SHORT_KEY) as c:
            with self.assertRaises(TimeoutError) as caught:
                await c.run(service_id="sleeper", inputs={"ms": 1500})
            err = caught.exception
            self.assertIsInstance(err, SyncTimeoutError)
            self.assertEqual(err.status_code, 504)
            self.assertIn("504", str(err))
            self.assertIn("timeout", str(err).lower())
            # The run went on: wait for that same run rather than start it again.
            result = await c.poll_result(err.request_id, timeout_seconds=30)
            self.assertEqual(result.json(), {"slept": 1500, "input": {"ms": 1500}})
            self.assertEqual(result.record["mode"], "sync")


class BackgroundRunTest(unittest.IsolatedAsyncioTestCase):
    async def test_result_json_is_the_services_answer(self):
        async with client() as c:
            handle = await c.run(service_id="ticker", inputs={"count": 3, "intervalMs": 1}, in_background=True)
            self.assertTrue(handle.request_id.startswith("req_"))
            self.assertEqual(str(handle), handle.request_id)
            response = await handle.result(timeout_seconds=30)
            self.assertEqual(response.json()["ticks"], 3)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.record["status"], "completed")
            details = await handle.details()
            self.assertEqual(details["mode"], "async")
            self.assertEqual(details["responseJson"], {"ticks": 3})

    async def test_result_timeout_raises_with_the_request_id_and_polls_in_seconds(self):
        proxy = CuttingProxy(URL)
        try:
            async with client(base_url=proxy.url) as c:
                handle = await c.run(service_id="sleeper", inputs={"ms": 2500}, in_background=True)
                with self.assertRaises(RunTimeoutError) as caught:
                    await handle.result(timeout_seconds=1)
                self.assertIsInstance(caught.exception, TimeoutError)
                self.assertEqual(caught.exception.request_id, handle.request_id)
                self.assertIn(f"GET /result/{handle.request_id}?timeout=1", proxy.requests)
                self.assertEqual((await handle.result(timeout_seconds=30)).json()["slept"], 2500)
        finally:
            proxy.close()

    async def test_a_crashed_run_raises_run_failed(self):
        async with client() as c:
            handle = await c.run(service_id="crash", inputs={}, in_background=True)
            with self.assertRaises(RunFailedError) as caught:
                await handle.result(timeout_seconds=30)
        self.assertEqual(caught.exception.code, "WORKER_CRASHED")
        self.assertEqual(caught.exception.request_id, handle.request_id)

    async def test_cancelling_a_wait_cancels_it(self):
        async with client() as c:
            handle = await c.run(service_id="sleeper", inputs={"ms": 3000}, in_background=True)
            task = asyncio.ensure_future(handle.result(timeout_seconds=60))
            await asyncio.sleep(0.2)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual((await handle.result(timeout_seconds=30)).json()["slept"], 3000)

    async def test_cancel_stops_the_run_and_a_second_cancel_of_an_ended_run_says_so(self):
        async with client() as c:
            handle = await c.run(service_id="sleeper", inputs={"ms": 30000}, in_background=True)
            record = await handle.cancel()
            self.assertEqual(record["status"], "cancelled")
            self.assertEqual(record["errorCode"], "RUN_CANCELLED")
            self.assertEqual((await handle.record(timeout_seconds=30))["status"], "cancelled")
            done = await c.run(service_id="sleeper", inputs={"ms": 1}, in_background=True)
            await done.result(timeout_seconds=30)
            with self.assertRaises(HTTPStatusError) as caught:
                await c.cancel(done.request_id)
            self.assertEqual((caught.exception.status_code, caught.exception.code), (409, "RUN_ALREADY_ENDED"))


class LogsTest(unittest.IsolatedAsyncioTestCase):
    async def test_logs_stream_every_line_and_end_with_the_run(self):
        async with client() as c:
            handle = await c.run(service_id="ticker", inputs={"count": 5, "intervalMs": 5}, in_background=True)
            lines = [line async for line in handle.logs()]
            ticks = [l for l in lines if l["message"].startswith("tick")]
            self.assertEqual([l["message"] for l in ticks], [f"tick {i}" for i in range(1, 6)])
            self.assertEqual([l["seq"] for l in lines], list(range(1, len(lines) + 1)))
            async with c.stream_logs(handle.request_id) as logs:
                again = [line async for line in logs]
            self.assertEqual(again, lines)
            tail = [line async for line in c.get_logs(handle.request_id, after=lines[2]["createdAt"])]
            self.assertEqual(tail, lines[3:])

    async def test_logs_resume_after_a_dropped_connection_without_gap_or_repeat(self):
        proxy = CuttingProxy(URL)
        try:
            async with client(base_url=proxy.url) as c:
                handle = await c.run(service_id="ticker", inputs={"count": 12, "intervalMs": 60}, in_background=True)
                seen = []
                async for line in handle.logs():
                    seen.append(line)
                    if len(seen) == 3:
                        proxy.cut_all()
            async with client() as direct:
                full = [line async for line in direct.get_logs(handle.request_id)]
            self.assertEqual([l["seq"] for l in seen], [l["seq"] for l in full])
            self.assertEqual(len([l for l in full if l["message"].startswith("tick")]), 12)
            resumed = [r for r in proxy.requests if r.startswith(f"GET /logs/{handle.request_id}?after=")]
            self.assertTrue(resumed, proxy.requests)
        finally:
            proxy.close()

    async def test_leaving_a_live_stream_early_stops_it(self):
        async with client() as c:
            handle = await c.run(service_id="ticker", inputs={"count": 40, "intervalMs": 50}, in_background=True)
            gen = handle.logs()
            first = await gen.__anext__()
            await gen.aclose()
            self.assertEqual(first["seq"], 1)
            self.assertEqual((await handle.result(timeout_seconds=30)).json(), {"ticks": 40})


class FilesTest(unittest.IsolatedAsyncioTestCase):
    async def test_upload_file_content_answers_a_download_url_of_the_bytes(self):
        payload = bytes(range(256)) * 40
        async with client() as c:
            url = await c.upload_file_content(filename="blob.bin", file_content=payload)
        with urllib.request.urlopen(url) as r:  # no key: the URL is the capability
            self.assertEqual(r.read(), payload)

    async def test_upload_file_reads_a_local_file(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "people.csv")
            with open(path, "w") as f:
                f.write("name,city\nAda,Stockholm\nBruno,Lagos\n")
            async with client() as c:
                url = await c.upload_file(path)
                self.assertIn("people.csv", url)
                response = await c.run(service_id="csv-processor", inputs={"csv_file": url, "processing_options": {"header_row": True}})
        self.assertEqual(response.json()["row_count"], 2)
        self.assertEqual(response.json()["columns"], ["name", "city"])


if __name__ == "__main__":
    unittest.main()
