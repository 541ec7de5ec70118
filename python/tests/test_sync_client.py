import unittest
import urllib.request

from runlet_client import CodewordsClient, NotFoundError, RunTimeoutError, ServiceError, SyncTimeoutError

from .support import KEY, SHORT_KEY, SHORT_URL, URL, CuttingProxy, one_time_key


class SyncClientTest(unittest.TestCase):
    def setUp(self):
        self.client = CodewordsClient(base_url=URL, api_key=KEY, auth_scheme="bare")

    def test_run_and_background_run(self):
        response = self.client.run(service_id="echo-input", inputs={"x": 1}, path="p")
        self.assertEqual(response.json()["input"], {"x": 1})
        self.assertEqual(response.json()["path"], "p")
        handle = self.client.run(service_id="ticker", inputs={"count": 2, "intervalMs": 1}, in_background=True)
        self.assertEqual(handle.result(timeout_seconds=30).json(), {"ticks": 2})
        self.assertEqual([l["message"] for l in handle.logs()], ["tick 1", "tick 2"])
        with self.client.stream_logs(handle.request_id) as logs:
            self.assertEqual(len(list(logs)), 2)
        self.assertEqual(handle.details()["status"], "completed")

    def test_errors(self):
        with self.assertRaises(ServiceError) as caught:
            self.client.run(service_id="refuse", inputs={"status": 500})
        self.assertEqual(caught.exception.status_code, 500)
        with self.assertRaises(NotFoundError):
            self.client.get_request_details("req_missing")
        handle = self.client.run(service_id="sleeper", inputs={"ms": 2000}, in_background=True)
        with self.assertRaises(RunTimeoutError) as timeout:
            handle.result(timeout_seconds=1)
        self.assertEqual(timeout.exception.request_id, handle.request_id)

    def test_sync_504_then_the_same_run(self):
        c = CodewordsClient(base_url=SHORT_URL, api_key=SHORT_KEY)
        with self.assertRaises(SyncTimeoutError) as caught:
            c.run(service_id="sleeper", inputs={"ms": 1200})
        self.assertEqual(c.poll_result(caught.exception.request_id, timeout_seconds=30).json()["slept"], 1200)

    def test_one_time_key(self):
        c = CodewordsClient(base_url=URL, api_key=one_time_key())
        handle = c.run(service_id="echo-input", inputs={"one": "time"}, in_background=True)
        self.assertEqual(handle.result(timeout_seconds=30).json()["input"], {"one": "time"})
        with self.assertRaises(Exception) as caught:
            c.provision_request()
        self.assertEqual(getattr(caught.exception, "code", None), "KEY_SPENT")

    def test_logs_resume_after_a_cut(self):
        proxy = CuttingProxy(URL)
        try:
            c = CodewordsClient(base_url=proxy.url, api_key=KEY)
            handle = c.run(service_id="ticker", inputs={"count": 8, "intervalMs": 60}, in_background=True)
            seen = []
            for line in handle.logs():
                seen.append(line)
                if len(seen) == 2:
                    proxy.cut_all()
            full = list(self.client.get_logs(handle.request_id))
            self.assertEqual([l["seq"] for l in seen], [l["seq"] for l in full])
            self.assertTrue(any(r.startswith(f"GET /logs/{handle.request_id}?after=") for r in proxy.requests))
        finally:
            proxy.close()

    def test_upload(self):
        url = self.client.upload_file_content("hello.txt", b"hello, runlet")
        with urllib.request.urlopen(url) as r:
            self.assertEqual(r.read(), b"hello, runlet")


if __name__ == "__main__":
    unittest.main()
