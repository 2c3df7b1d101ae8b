"""docs/nginx/mapaid.conf for real (issue 12, item 4): Debian's nginx starts with that file in front of two
`mapaid serve` processes on one database, over TLS on loopback, and the site works through it: pages with
the app's own headers from both processes, nothing compressed by nginx, one post from a form sent twice
even when the two submissions reach different processes, and a posting limit shared by the processes.
Reads of the exports and the OGC API are limited per client in nginx too (issue 17, item 4): requests at
a time and requests a second.

The test changes only what a deployment changes (ports, certificate and log paths) and adds one header
naming the process that answered, so it can tell the two apart. `make install-test` installs nginx."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import TEST_SECRET
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from livesite import free_port, serve_process
from test_posting_flow import CELL, CENTRE

CONF = Path(__file__).parent.parent / "docs" / "nginx" / "mapaid.conf"
CADDYFILE = CONF.parent.parent / "caddy" / "Caddyfile"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WHO_ANSWERED = "    add_header X-Upstream $upstream_addr always;\n"  # the test's only addition


@dataclass
class Proxied:
    url: str  # https://127.0.0.1:PORT, nginx
    servers: set[str]  # the two processes' loopback addresses, as nginx names them
    cert: Path
    web: requests.Session


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, for nginx's TLS server and the client's trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mapaid.example.org")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("mapaid.example.org"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _site(folder: Path, a: int, b: int, http: int, https: int) -> str:
    """docs/nginx/mapaid.conf with this machine's ports and paths: each change must find its text."""
    text = CONF.read_text()
    cert, key = _certificate(folder)
    changes = {
        "127.0.0.1:5001": f"127.0.0.1:{a}",
        "127.0.0.1:5002": f"127.0.0.1:{b}",
        "    listen 80;\n": f"    listen 127.0.0.1:{http};\n",
        "    listen [::]:80;\n": "",
        "    listen 443 ssl http2;": f"    listen 127.0.0.1:{https} ssl http2;",
        "    listen [::]:443 ssl http2;\n": "",
        "/etc/letsencrypt/live/mapaid.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/mapaid.example.org/privkey.pem": str(key),
        "/var/log/nginx/mapaid.error.log": str(folder / "mapaid.error.log"),
        "    server_tokens off;\n": f"    server_tokens off;\n{WHO_ANSWERED}",
    }
    for old, new in changes.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _main_conf(folder: Path) -> Path:
    """The http {} around the site, as Debian's nginx.conf has it, with every path in ``folder``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the test's private folder
    temp = "".join(
        f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n    default_type application/octet-stream;\n    gzip on;  # as Debian's nginx.conf\n"
        f"    client_body_temp_path {folder}/body;\n{temp}    include {folder}/mapaid.conf;\n}}\n"
    )
    return conf


def _wait_for(url: str, cert: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()[-2000:]}")
        try:
            with requests.Session() as probe:
                probe.trust_env = False
                probe.get(f"{url}/health", verify=str(cert), timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp("proxy")
    shutil.copy(template_db, folder / "mapaid.sqlite3")
    env = {
        "MAPAID_DATABASE": str(folder / "mapaid.sqlite3"),
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(folder / "instance"),
        "MAPAID_CELL_RES": "9",
        "MAPAID_TRUSTED_PROXIES": "1",
        "MAPAID_SECURE_COOKIES": "1",
        "MAPAID_PUBLISH_MINUTES": "0",  # posts public at once: these tests count them
    }  # the shipped limits: five posts a minute per client, in each process
    with serve_process(env, folder / "a.log") as a, serve_process(env, folder / "b.log") as b:
        ports = [int(u.rsplit(":", 1)[1]) for u in (a, b)]
        http, https = free_port(), free_port()
        (folder / "mapaid.conf").write_text(_site(folder, *ports, http, https))
        conf = _main_conf(folder)
        checked = subprocess.run(
            [NGINX, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
        log = folder / "nginx.out"
        with log.open("wb") as out:
            nginx = subprocess.Popen(
                [NGINX, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"], stdout=out, stderr=out
            )
        url = f"https://127.0.0.1:{https}"
        try:
            _wait_for(url, folder / "fullchain.pem", nginx, log)
            with requests.Session() as web:
                web.trust_env = False  # no proxy or CA bundle from the environment
                web.verify = str(folder / "fullchain.pem")
                yield Proxied(url, {f"127.0.0.1:{p}" for p in ports}, folder / "fullchain.pem", web)
        finally:
            nginx.terminate()
            nginx.wait(10)


def test_pages_come_through_from_both_processes_with_the_apps_headers(proxied: Proxied) -> None:
    seen = set()
    for _ in range(4):
        page = proxied.web.get(f"{proxied.url}/", headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert page.status_code == 200
        assert "nonce-" in page.headers["Content-Security-Policy"]
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
        seen.add(page.headers["X-Upstream"])
    assert seen == proxied.servers
    # A page with a session cookie is never compressed (mapaid/compress.py); nginx adds no gzip either.
    proxied.web.get(f"{proxied.url}/post", params={"cell": CELL}, timeout=30)
    assert proxied.web.cookies
    page = proxied.web.get(f"{proxied.url}/post", params={"cell": CELL}, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in page.headers
    plain = proxied.web.get(f"http://{proxied.url.split('://', 1)[1]}/", timeout=5, allow_redirects=False)
    assert plain.status_code == 400  # plain HTTP on the TLS port: nginx refuses it


def _count(proxied: Proxied) -> int:
    answer = proxied.web.get(f"{proxied.url}/api/v1/posts", params={"cell": CELL, "within": 400}, timeout=30)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["features"])


def test_a_form_sent_twice_through_the_proxy_to_two_processes_makes_one_post(proxied: Proxied) -> None:
    web = proxied.web
    html = web.get(f"{proxied.url}/post", params={"cell": CELL}, timeout=30).text
    form = {n: re.search(rf'name="{n}" value="([^"]*)"', html).group(1) for n in ("csrf_token", "form_nonce")}  # type: ignore[union-attr]
    data = {"cell": CELL, "kind": "need", "category": "food", "text": "Soup, please (sent twice)", **form}
    before = _count(proxied)
    answers = [
        web.post(f"{proxied.url}/post", data=data, timeout=30, allow_redirects=False) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    assert {a.headers["X-Upstream"] for a in answers} == proxied.servers  # one submission to each process
    assert _count(proxied) == before + 1
    assert answers[0].headers["Location"] == answers[1].headers["Location"]


def test_the_posting_limit_is_one_for_the_whole_site(proxied: Proxied) -> None:
    """Each process allows five posts a minute per client; nginx's zone counts them for both together."""
    body = {"kind": "offer", "category": "food", "text": "Soup tonight", "lat": CENTRE[0], "lon": CENTRE[1]}
    with requests.Session() as api:  # no cookies: an API client
        api.trust_env = False
        api.verify = str(proxied.cert)
        answers = [api.post(f"{proxied.url}/api/v1/posts", json=body, timeout=30) for _ in range(8)]
    made = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 429]
    assert len(made) + len(refused) == len(answers), [a.status_code for a in answers]
    assert 1 <= len(made) <= 5 and refused
    assert {a.headers["X-Upstream"] for a in made} == proxied.servers or len(made) == 1
    assert refused[0].headers["Retry-After"] == "60"
    assert refused[0].headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "паспрабуйце зноў праз хвіліну" in refused[0].text and "попробуйте снова" in refused[0].text


def test_a_form_sent_over_https_without_a_referer_is_taken(client: FlaskClient) -> None:
    """Pages send no Referer (Referrer-Policy: no-referrer), so over HTTPS a form arrives without one."""
    html = client.get(f"/post?cell={CELL}", base_url="https://mapaid.example.org").get_data(as_text=True)
    form = {n: re.search(rf'name="{n}" value="([^"]*)"', html).group(1) for n in ("csrf_token", "form_nonce")}  # type: ignore[union-attr]
    data = {"cell": CELL, "kind": "need", "category": "food", "text": "Soup over TLS", **form}
    sent = client.post("/post", data=data, base_url="https://mapaid.example.org")
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]


def test_the_caddyfile_is_valid_for_caddy(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    assert caddy, "make install-test installs Debian's caddy"
    checked = subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
        check=False,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    text = CADDYFILE.read_text()
    assert "lb_policy ip_hash" in text and "encode" not in text.replace("# No `encode`", "")


def test_login_attempts_are_counted_once_for_the_whole_site(proxied: Proxied) -> None:
    """Each process lets a client try 20 logins a minute; nginx's zone counts them for both together (it
    counts before mapaid looks at the form, so these, refused for their missing CSRF token, count too)."""
    with requests.Session() as guesser:
        guesser.trust_env = False
        guesser.verify = str(proxied.cert)
        answers = [
            guesser.post(f"{proxied.url}/coordinator/login", data={"name": "anna", "password": "x" * 12})
            for _ in range(24)
        ]
    codes = [a.status_code for a in answers]
    assert set(codes) == {400, 429} and codes.count(400) <= 20, codes
    assert {a.headers["X-Upstream"] for a in answers if a.status_code == 400} == proxied.servers


def _held(proxied: Proxied, count: int) -> list[ssl.SSLSocket]:
    """Requests nginx has let in and is still reading: a GET under /export/ whose announced body never
    comes (nginx reads a body before it passes a request on), each on its own connection."""
    host, port = proxied.url.split("://", 1)[1].split(":")
    context = ssl.create_default_context(cafile=str(proxied.cert))
    held = []
    for _ in range(count):
        raw = socket.create_connection((host, int(port)), timeout=10)
        tls = context.wrap_socket(raw, server_hostname=host)
        tls.sendall(
            f"GET /export/posts.gpkg HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\n".encode()
        )
        held.append(tls)
    return held


def test_reads_of_exports_are_limited_in_the_proxy(proxied: Proxied) -> None:
    """Four requests at a time per client under /export/ and /ogcapi (a fifth is refused while they run),
    and 100 at once then 10 a second; nginx refuses itself (no upstream answered), and other pages stay
    open to the same client."""
    web = proxied.web
    held = _held(proxied, 4)
    try:
        deadline = time.monotonic() + 5
        while True:
            fifth = web.get(f"{proxied.url}/export/posts.gpkg", headers={"Range": "bytes=0-0"}, timeout=30)
            if fifth.status_code == 429 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # nginx has not read the held requests' headers yet
        assert fifth.status_code == 429 and "X-Upstream" not in fifth.headers, fifth.status_code
        assert fifth.headers["Retry-After"] == "60" and "Too many requests" in fifth.text
        assert web.get(f"{proxied.url}/near/{CELL}", timeout=30).status_code == 200
    finally:
        for connection in held:
            connection.close()
    answers: list[requests.Response] = []
    readers = [threading.Thread(target=_read, args=(proxied, 100, answers)) for _ in range(4)]  # 4 at a time
    started = time.monotonic()
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(300)
    took = time.monotonic() - started
    passed = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429 and "X-Upstream" not in a.headers]
    assert len(passed) + len(refused) == len(answers) == 400, [a.status_code for a in answers]
    assert 90 <= len(passed) <= 101 + 10 * took + 10 and refused, (len(passed), took)
    assert web.get(f"{proxied.url}/near/{CELL}", timeout=30).status_code == 200


def _read(proxied: Proxied, count: int, answers: list[requests.Response]) -> None:
    with requests.Session() as reader:
        reader.trust_env = False
        reader.verify = str(proxied.cert)
        answers += [reader.get(f"{proxied.url}/ogcapi/conformance", timeout=30) for _ in range(count)]
