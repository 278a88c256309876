"""Page weight and first-view time for every page in each demo user's navigation.

Run against a served demo (`make run` in another terminal):

    .venv/bin/python bench/pages.py [--base http://127.0.0.1:5000]

For each role: signs in, follows every menu entry, and prints the HTML size, the size of
the page with its stylesheets and scripts (what a tablet transfers before images), and
the server time of the HTML. Targets (issue 3): no page over 150 KB before images, a
first view well under a second on loopback.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import sys
import time
import urllib.parse
import urllib.request

USERS = ["pendamping", "supervisor", "auditor", "manajer", "admin"]
PASSWORD = "Demo-Caseflow-2026"


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.assets: dict[str, int] = {}

    def get(self, path: str) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        with self.opener.open(urllib.parse.urljoin(self.base, path), timeout=30) as response:
            body = response.read()
            return response.status, body, time.perf_counter() - start

    def login(self, username: str) -> None:
        _status, page, _t = self.get("/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        data = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": PASSWORD}).encode()
        self.opener.open(urllib.parse.urljoin(self.base, "/login"), data=data, timeout=30).read()

    def asset_bytes(self, html: bytes) -> int:
        total = 0
        for src in re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html):
            path = src.decode()
            if path not in self.assets:
                self.assets[path] = len(self.get(path)[1])
            total += self.assets[path]
        return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    args = parser.parse_args()
    worst_size, worst_time = 0, 0.0
    print(f"{'user':<12} {'page':<34} {'html KB':>8} {'+css/js KB':>10} {'server ms':>9}")
    for username in USERS:
        browser = Browser(args.base)
        browser.login(username)
        _s, home, _t = browser.get("/")
        links = re.findall(rb'<nav class="mainnav".*?</nav>', home, re.S)
        paths = ["/"] + [p.decode() for p in re.findall(rb'href="(/[^"]*)"', links[0] if links else b"")]
        # one case page too, for the roles that read cases
        case = re.search(rb'href="(/cases/\d+)"', home)
        if case:
            paths.append(case.group(1).decode())
        for path in dict.fromkeys(paths):
            status, html, seconds = browser.get(path)
            total = len(html) + browser.asset_bytes(html)
            worst_size, worst_time = max(worst_size, total), max(worst_time, seconds)
            print(f"{username:<12} {path[:34]:<34} {len(html) / 1024:8.1f} {total / 1024:10.1f} {seconds * 1000:9.0f}"
                  + ("" if status == 200 else f"  status {status}"))
    print(f"\nheaviest page with its css/js: {worst_size / 1024:.1f} KB (target < 150 KB); "
          f"slowest first view: {worst_time * 1000:.0f} ms (target well under 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
