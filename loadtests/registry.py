"""Read-heavy model-registry traffic with some registrations.

    locust -f loadtests/registry.py -H http://127.0.0.1:8001
Bearer tokens from HARNESS_READ_TOKEN / HARNESS_WRITE_TOKEN or the testbed manifest
(TESTBED_MANIFEST). Each user registers one model version when it starts (a unique
name/version), then mostly reads it and its versions; 1 request in 11 registers a
new version of that model. Request names use [id] rather than {id}: a criterion's
selector cannot contain braces (p95{name="GET /models/[id]"} < 50ms).
"""

from __future__ import annotations

import uuid

from locust import FastHttpUser, between, task

from harness.load.scenario_env import service_url, think_time_s, token


class RegistryUser(FastHttpUser):
    host = service_url("registry")
    wait_time = between(*think_time_s((0.5, 1.5)))

    def on_start(self) -> None:
        self.read_headers = {"Authorization": f"Bearer {token('read')}"}
        self.write_headers = {"Authorization": f"Bearer {token('write')}"}
        self.name = f"load-{uuid.uuid4().hex[:10]}"
        self.model_ids: list[int] = []
        self.register()

    def register(self) -> None:
        body = {
            "name": self.name,
            "version": uuid.uuid4().hex[:12],
            "framework": "sklearn",
            "metrics": {"accuracy": 0.9},
            "tags": {"source": "loadtest"},
        }
        with self.client.post(
            "/models/register", json=body, headers=self.write_headers,
            name="/models/register", catch_response=True,
        ) as response:
            try:
                model_id = int(response.json()["model_id"])
            except Exception:
                response.failure(f"register: HTTP {response.status_code}, no model_id")
                return
            if response.status_code != 201:
                response.failure(f"register: HTTP {response.status_code} (expected 201)")
                return
            self.model_ids.append(model_id)
            response.success()

    @task(6)
    def get_model(self) -> None:
        if not self.model_ids:
            self.register()
            return
        model_id = self.model_ids[-1]
        with self.client.get(
            f"/models/{model_id}", headers=self.read_headers, name="/models/[id]",
            catch_response=True,
        ) as response:
            try:
                ok = response.status_code == 200 and response.json()["model_id"] == model_id
            except Exception:
                ok = False
            if ok:
                response.success()
            else:
                response.failure(f"get model: HTTP {response.status_code} or wrong body")

    @task(4)
    def versions(self) -> None:
        if not self.model_ids:
            return
        with self.client.get(
            f"/models/{self.model_ids[0]}/versions", headers=self.read_headers,
            name="/models/[id]/versions", catch_response=True,
        ) as response:
            try:
                ok = response.status_code == 200 and isinstance(response.json()["versions"], list)
            except Exception:
                ok = False
            if ok:
                response.success()
            else:
                response.failure(f"versions: HTTP {response.status_code} or wrong body")

    @task(1)
    def register_version(self) -> None:
        self.register()
