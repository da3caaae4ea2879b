"""The portal process serves the RFC 8908 API over HTTPS when given a certificate."""

import json
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request

from tests.requirements import need


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rfc8908_api_over_https(tmp_path, served):
    need(shutil.which("openssl") is not None, "openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    path, _kernel, _gateway = served
    http, https = _free_port(), _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "captive_portal.main", "--gateway-socket", path,
                             "--host", "127.0.0.1", "--port", str(http), "--cert", str(cert),
                             "--key", str(key), "--tls-port", str(https)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert "ready" in proc.stdout.readline().decode()
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{https}/api/captive", context=context,
                                    timeout=5) as answer:  # fmt: skip
            assert answer.headers.get_content_type() == "application/captive+json"
            body = json.loads(answer.read())
        assert body["captive"] is True and body["user-portal-url"].startswith("https://")
    finally:
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()
