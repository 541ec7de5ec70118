"""The clients retry a call that starts work (run, background run, provision) after a network error
or a gateway's 502/503/504, with one ``Idempotency-Key`` on every try: a try whose answer was lost
and its retry make one run, not two."""

import json
import time
from datetime import datetime
import unittest
import urllib.request

from runlet_client import AsyncCodewordsClient, CodewordsClient, ServiceError

from .support import KEY, URL, LosingProxy


def runs_since(service_id: str, since_ms: int) -> list:
    """The account's runs of ``service_id`` created since ``since_ms`` (tests here run one at a time)."""
    request = urllib.request.Request(f"{URL}/runs?service={service_id}&limit=200", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request) as resp:
        runs = json.loads(resp.read())["runs"]
    return [r for r in runs if created_ms(r) >= since_ms]


def created_ms(record: dict) -> int:
    """``createdAt`` is an ISO 8601 time (UTC, with a Z)."""
    return int(datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00")).timestamp() * 1000)


class IdempotentRetriesTest(unittest.TestCase):
    def setUp(self):
        self.started = int(time.time() * 1000) - 1

    def assert_one_key(self, tries: list, count: int) -> None:
        self.assertEqual(len(tries), count, tries)
        keys = {key for _, _, key in tries}
        self.assertEqual(len(keys), 1, "one key for every try of a call")
        self.assertRegex(keys.pop() or "", r"^[0-9a-f]{32}$")

    def test_background_run_whose_answer_was_lost(self):
        proxy = LosingProxy(URL, "/run_async/", "drop")
        try:
            c = CodewordsClient(base_url=proxy.url, api_key=KEY)
            handle = c.run(service_id="echo-input", inputs={"lost": "async"}, in_background=True)
            self.assertEqual(handle.result(timeout_seconds=30).json()["input"], {"lost": "async"})
            self.assert_one_key(proxy.tries("/run_async/"), 2)
        finally:
            proxy.close()
        self.assertEqual([r["id"] for r in runs_since("echo-input", self.started)], [handle.request_id], "one run, not two")

    def test_sync_run_whose_answer_was_lost(self):
        proxy = LosingProxy(URL, "/run/", "drop")
        try:
            response = CodewordsClient(base_url=proxy.url, api_key=KEY).run(service_id="echo-input", inputs={"lost": "sync"})
            self.assertEqual(response.json()["input"], {"lost": "sync"})
            self.assertEqual(response.headers.get("idempotent-replayed"), "true", "the retry was answered the first run")
            self.assert_one_key(proxy.tries("/run/"), 2)
        finally:
            proxy.close()
        self.assertEqual([r["id"] for r in runs_since("echo-input", self.started)], [response.request_id])

    def test_provision_through_gateway_timeouts(self):
        proxy = LosingProxy(URL, "/provision-request", "gateway", times=2)
        try:
            request_id = CodewordsClient(base_url=proxy.url, api_key=KEY).provision_request()
            self.assert_one_key(proxy.tries("/provision-request"), 3)
        finally:
            proxy.close()
        self.assertEqual(CodewordsClient(base_url=URL, api_key=KEY).get_request_details(request_id)["status"], "provisioned")

    def test_a_services_own_503_is_not_retried(self):
        proxy = LosingProxy(URL, "/nothing", "drop")
        try:
            with self.assertRaises(ServiceError) as caught:
                CodewordsClient(base_url=proxy.url, api_key=KEY).run(service_id="refuse", inputs={"status": 503})
            self.assertEqual(caught.exception.status_code, 503)
            self.assertEqual(len(proxy.tries("/run/refuse")), 1)
        finally:
            proxy.close()


class AsyncIdempotentRetriesTest(unittest.IsolatedAsyncioTestCase):
    async def test_async_client_retries_a_gateway_504_with_its_key(self):
        started = int(time.time() * 1000) - 1
        proxy = LosingProxy(URL, "/run/", "gateway")
        try:
            async with AsyncCodewordsClient(base_url=proxy.url, api_key=KEY) as c:
                response = await c.run(service_id="echo-input", inputs={"lost": "gateway"})
            self.assertEqual(response.json()["input"], {"lost": "gateway"})
            tries = proxy.tries("/run/")
            self.assertEqual(len(tries), 2)
            self.assertEqual(len({key for _, _, key in tries}), 1)
        finally:
            proxy.close()
        self.assertEqual([r["id"] for r in runs_since("echo-input", started)], [response.request_id])
