"""A minimal imitation of the Hugging Face Hub API on 127.0.0.1, for download tests.

It serves the files of one local folder as a model repository, with the
endpoints huggingface_hub 2.4's snapshot_download calls: repository info,
the file tree, and HEAD and GET of each file. Any other path returns 404 with
the error code the Hub sends for an unknown repository.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubServer:
    """Serves `folder` as repository `repo_id`; `requests` lists (method, path) pairs."""

    def __init__(self, folder: Path, repo_id: str) -> None:
        self.repo_id = repo_id
        self.files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, method: str, raw_path: str) -> tuple[int, bytes, dict[str, str]]:
        """Return the status, body and headers for one request."""
        self.requests.append((method, raw_path))
        path = unquote(urlparse(raw_path).path)
        json_headers = {"Content-Type": "application/json"}

        if path.startswith(f"/api/models/{self.repo_id}/revision/"):
            siblings = [{"rfilename": name} for name in self.files]
            body = {"id": self.repo_id, "sha": COMMIT, "siblings": siblings}
            return 200, json.dumps(body).encode(), json_headers

        if path.startswith(f"/api/models/{self.repo_id}/tree/"):
            entries = [
                {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                for name, data in self.files.items()
            ]
            return 200, json.dumps(entries).encode(), json_headers

        prefix = f"/{self.repo_id}/resolve/"
        if path.startswith(prefix):
            _revision, _slash, name = path[len(prefix) :].partition("/")
            if name in self.files:
                data = self.files[name]
                headers = {
                    "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                    "X-Repo-Commit": COMMIT,
                    "Content-Type": "application/octet-stream",
                }
                return 200, data, headers

        error_headers = {**json_headers, "X-Error-Code": "RepoNotFound"}
        return 404, b'{"error": "Repository not found"}', error_headers

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, send_body: bool) -> None:
                status, body, headers = hub.respond(self.command, self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(send_body=True)

            def do_HEAD(self) -> None:
                self._reply(send_body=False)

        return Handler
