"""What `rivergen up` tells a local head's Serve about its HAProxy: Ray runs RiverGen's
launcher as HAProxy, and the gateway trusts X-Forwarded-For from HAProxy (and the load balancers
named in RIVERGEN_HTTP__UPSTREAM_PROXIES) alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

from deployments.platform import local_ingress_env
from rivergen.settings import GatewaySettings, HttpSettings, Settings


def test_a_local_head_runs_the_launcher_and_trusts_its_own_haproxy(tmp_path: Path) -> None:
    http = HttpSettings.model_validate({"upstream_proxies": ["192.0.2.0/24"]})
    env = local_ingress_env(Settings(data_dir=tmp_path, http=http))
    launcher = Path(env["RAY_SERVE_HAPROXY_BINARY_PATH"])
    assert launcher == tmp_path.resolve() / "run" / "haproxy"
    assert os.access(launcher, os.X_OK)
    assert "-m deployments.haproxy_ingress" in launcher.read_text()
    trusted = json.loads(env["RIVERGEN_GATEWAY__TRUSTED_PROXIES"])
    assert trusted == ["127.0.0.1/32", "192.0.2.0/24"]
    parsed = GatewaySettings(trusted_proxies=trusted).trusted_proxies
    assert [str(n) for n in parsed] == trusted
