"""A production-like installation on loopback, for tests/deploy: a fresh PostgreSQL
database, Redis, two application servers (`caseflow serve`, gunicorn) sharing nothing but
those, a worker with the scheduler, and nginx in front with a self-signed certificate,
configured from deploy/nginx/caseflow.conf itself."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from caseflow.security.fields import new_key

ROOT = Path(__file__).resolve().parents[2]
CASEFLOW = str(Path(sys.executable).parent / "caseflow")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
CLIENT_ADDRESS = "127.0.0.2"  # the "user's" address: another loopback address than nginx's


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def nginx_site(folder: Path, *, http_port: int, https_port: int, upstreams: list[int], cert: Path, key: Path,
               static: Path) -> str:
    """deploy/nginx/caseflow.conf with this stack's ports, certificate and paths."""
    site = (ROOT / "deploy" / "nginx" / "caseflow.conf").read_text()
    replacements = [
        ("    server 127.0.0.1:8000;\n", "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)),
        ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        ("    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl;\n"),
        ("/etc/ssl/caseflow/fullchain.pem", str(cert)),
        ("/etc/ssl/caseflow/privkey.pem", str(key)),
        ("/opt/caseflow/static/", f"{static}/"),
        ("return 301 https://$host$request_uri;", f"return 301 https://$host:{https_port}$request_uri;"),
    ]
    for old, new in replacements:
        assert old in site, f"deploy/nginx/caseflow.conf no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main)
    return str(path)


@dataclass
class Browser:
    """Just enough of a browser over http.client: cookies (Secure ones only over HTTPS),
    a source address, a trusted self-signed certificate."""

    base: str
    cafile: Path | None = None
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookie_headers: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, data: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(self.base)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=str(self.cafile))
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context,
                                                     source_address=(self.source, 0), timeout=30)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, source_address=(self.source, 0),
                                                    timeout=30)
        sent = {"Referer": f"{self.base}{path}"} | dict(headers or {})  # Flask-WTF checks it over HTTPS
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
        for header in answer.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(header)
            for name, morsel in SimpleCookie(header).items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        connection.close()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, text

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs):
        return self.request("POST", path, data=data, **kwargs)

    def sign_in(self, username: str, password: str) -> int:
        _status, _headers, page = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return self.post("/login", {"csrf_token": token, "username": username, "password": password})[0]


class Stack:
    def __init__(self, folder: Path, postgres_url: str, servers: int = 2) -> None:
        self.folder, self.processes = folder, []
        self.database_name = "caseflow_deploy_" + secrets.token_hex(4)
        parts = urlsplit(postgres_url)
        self.admin_url = postgres_url
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database_name}"')
        self.database_url = urlunsplit(parts._replace(path="/" + self.database_name))
        self.redis_port = free_port()
        redis = self._start([REDIS, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], "redis")
        wait_for_port(self.redis_port, redis)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFLOW_", "PROMETHEUS_"))} | {
            "CASEFLOW_DATABASE_URL": self.database_url,
            "CASEFLOW_SECRET_KEY": secrets.token_urlsafe(48),
            "CASEFLOW_FIELD_KEYS": new_key(),
            "CASEFLOW_RATELIMIT_STORAGE_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CASEFLOW_TASKS_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "CASEFLOW_TRUSTED_PROXIES": "1",
            "CASEFLOW_WORKERS": "2",
            "CASEFLOW_METRICS_TOKEN": "metrics-" + secrets.token_hex(8),
            "CASEFLOW_LOGIN_LIMIT_ACCOUNT": "3 per 15 minutes",
            "CASEFLOW_LOGIN_ADDRESS_DELAY_SECONDS": "0",
            "CASEFLOW_ARGON2_TIME_COST": "1",
            "CASEFLOW_ARGON2_MEMORY_KIB": "1024",
            "CASEFLOW_INSTANCE_PATH": str(folder / "instance-setup"),
        }
        for args in (["db", "upgrade", "heads"], ["seed-demo"]):
            done = subprocess.run([CASEFLOW, *args], env=self.env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
        # Each server has its own instance folder: nothing is shared but the database and Redis.
        self.app_ports = [free_port() for _ in range(servers)]
        for number, port in enumerate(self.app_ports):
            server = self._start([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}"], f"app{number}",
                                 CASEFLOW_INSTANCE_PATH=str(folder / f"instance-{number}"))
            wait_for_port(port, server)
        self._start([CASEFLOW, "worker", "--workers", "1"], "worker",
                    CASEFLOW_INSTANCE_PATH=str(folder / "instance-worker"))
        cert, key = self_signed(folder)
        self.cafile = cert
        self.http_port, self.https_port = free_port(), free_port()
        static = ROOT / "caseflow" / "static"
        config = nginx_site(folder, http_port=self.http_port, https_port=self.https_port,
                            upstreams=self.app_ports, cert=cert, key=key, static=static)
        checked = subprocess.run([NGINX, "-t", "-c", config, "-p", str(folder)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        nginx = self._start([NGINX, "-c", config, "-p", str(folder), "-g", "daemon off;"], "nginx")
        wait_for_port(self.https_port, nginx)

    def _start(self, args: list[str], name: str, **env: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(args, env=getattr(self, "env", dict(os.environ)) | env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.folder)
        self.processes.append(process)
        return process

    def browser(self, *, server: int | None = None) -> Browser:
        """Through nginx over HTTPS from the client's address, or straight to one app server."""
        if server is None:
            return Browser(f"https://127.0.0.1:{self.https_port}", cafile=self.cafile, source=CLIENT_ADDRESS)
        return Browser(f"http://127.0.0.1:{self.app_ports[server]}")

    def sql(self, query: str, *params):
        with psycopg.connect(self.admin_url.rsplit("/", 1)[0] + "/" + self.database_name) as connection:
            return connection.execute(query, params).fetchall()

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
