"""A Hugging Face Hub on loopback for the tests: the few HTTP routes that ``push_to_hub``, ``upload_folder`` and
``from_pretrained`` use, so that the real client code runs end to end without the internet.

Repos live in memory (``{repo_id: {path: bytes}}``); every file is taken in the commit itself (``uploadMode``
"regular"), so no LFS or Xet storage is needed. Run it with :func:`serve`; give a child process :func:`client_env`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHA = "0" * 40  # one commit id for every revision: the tests read what they pushed last


class _Hub(BaseHTTPRequestHandler):
    repos: dict[str, dict[str, bytes]]

    def log_message(self, *args):  # quiet
        pass

    def _json(self, code: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_POST(self):
        if self.path == "/api/repos/create":
            spec = json.loads(self._body())
            repo_id = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
            self.repos.setdefault(repo_id, {})
            return self._json(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id})
        if self.path == "/api/validate-yaml":  # a model card's metadata: any is fine here
            self._body()
            return self._json(200, {"errors": [], "warnings": []})
        match = re.fullmatch(r"/api/models/(.+)/(preupload|commit)/([^/]+)", self.path)
        if not match:
            return self._json(404, {"error": f"no route {self.path}"})
        repo_id, action = match.group(1), match.group(2)
        if action == "preupload":
            files = json.loads(self._body())["files"]
            return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                              for f in files]})
        for line in self._body().decode().splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                self.repos.setdefault(repo_id, {})[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        return self._json(200, {"commitUrl": f"http://{self.headers['Host']}/{repo_id}/commit/{SHA}",
                                "commitOid": SHA, "pullRequestUrl": None})

    def _resolve(self):
        match = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
        files = self.repos.get(match.group(1), {}) if match else {}
        content = files.get(match.group(3)) if match else None
        if content is None:
            return self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
        self.send_header("X-Repo-Commit", SHA)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(content)

    do_GET = do_HEAD = _resolve


def serve() -> tuple[ThreadingHTTPServer, dict[str, dict[str, bytes]]]:
    """Start the Hub on a free loopback port in a daemon thread; return the server (``server_port``) and its repos."""
    repos: dict[str, dict[str, bytes]] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Hub", (_Hub,), {"repos": repos}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, repos


def client_env(server: ThreadingHTTPServer, base: dict, home) -> dict:
    """``base`` (a child process's environment) pointed at ``server``: its endpoint, a token, a cache of its own
    in ``home``, and online (the tests' default is offline)."""
    env = {**base, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_TOKEN": "hf_test", "HF_HOME": str(home)}
    env.pop("HF_HUB_OFFLINE", None)
    return env
