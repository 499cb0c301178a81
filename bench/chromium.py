"""A real headless Chromium driven over the DevTools protocol, for the dashboard's
browser test and its latency benchmark.

Key concepts:

- **Debian's ``chromium``**, found on ``PATH`` (``CHROMIUM`` overrides it); nothing
  here downloads a browser. :func:`find_chromium` says how to install it when absent.
- **``--remote-debugging-pipe``**: the protocol runs over two pipes (the browser
  reads commands on fd 3 and writes answers on fd 4, each message ended by a NUL
  byte), so no port is opened and no WebSocket client is needed.
- **A fresh profile** (``--user-data-dir`` in a temporary directory) and the flags
  that keep the browser from calling home: it talks to 127.0.0.1 only.

Usage::

    with Chromium(tmp_path) as browser:
        page = browser.open("http://127.0.0.1:7104/", width=1440, height=900)
        page.evaluate("document.title")          # -> 'Streamwatch — live'
        Path("shot.png").write_bytes(page.screenshot())
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-pipe")


class ChromiumError(RuntimeError):
    """The browser is missing, died, or answered a command with an error."""


def find_chromium() -> str:
    """Path of the browser, or ChromiumError saying how to install it."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        raise ChromiumError("chromium not found: install Debian's package "
                            "(apt-get install -y chromium) or set CHROMIUM to its path")
    return found


class Page:
    """One tab, attached in flat mode: commands carry its session id."""

    def __init__(self, browser: Chromium, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """Value of a JavaScript expression (promises are awaited); JS errors raise."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ChromiumError(f"{expression[:80]!r} raised: {text}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy; its last value in the error otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise ChromiumError(f"{expression!r} still {value!r} after {timeout:g} s")
            time.sleep(interval)

    def screenshot(self) -> bytes:
        """PNG of the viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        return base64.b64decode(data)

    def problems(self) -> list[str]:
        """Exceptions, console errors and log errors (CSP violations, failed loads) so far."""
        out = []
        for event in self.browser.events(self.session_id):
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.append(details.get("exception", {}).get("description")
                           or details.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"{params['entry'].get('source')}: {params['entry'].get('text')} "
                           f"({params['entry'].get('url', '')})")
        return out


class Chromium:
    """A headless browser process; a context manager that always ends it."""

    def __init__(self, workdir: Path | None = None, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        self._tmp = tempfile.TemporaryDirectory(prefix="chromium-", dir=workdir)
        self.log_path = Path(self._tmp.name) / "chromium.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._closed = False
        self._out: int | None = None
        self._in: int | None = None

    # -- process --------------------------------------------------------------------
    def start(self) -> Chromium:
        commands_r, commands_w = os.pipe()
        answers_r, answers_w = os.pipe()
        # The browser wants the pipes on fds 3 and 4 exactly. Its ends are copied above 4
        # first, so that putting one on 3 cannot overwrite the other.
        high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 5)
        high_w = fcntl.fcntl(answers_w, fcntl.F_DUPFD, 5)
        for fd in (commands_r, answers_w):
            os.close(fd)
        profile = Path(self._tmp.name) / "profile"
        argv = [self.binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        script = f'exec 3<&{high_r} 4>&{high_w} {high_r}<&- {high_w}>&-; exec "$@"'
        with self.log_path.open("wb") as log:
            try:
                self._proc = subprocess.Popen(
                    ["bash", "-c", script, "bash", *argv],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(high_r, high_w), start_new_session=True)
            finally:
                os.close(high_r)
                os.close(high_w)
        self._out, self._in = commands_w, answers_r
        threading.Thread(target=self._read, name="chromium-reader", daemon=True).start()
        self.send("Target.setDiscoverTargets", {"discover": False}, timeout=60)
        return self

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            with contextlib.suppress(ChromiumError):
                self.send("Browser.close", timeout=5)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=10)
        for fd in (self._out, self._in):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._out = self._in = None
        self._tmp.cleanup()

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- protocol -------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        assert self._in is not None
        fd = self._in
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             session_id: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
            message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
            if session_id is not None:
                message["sessionId"] = session_id
            if self._out is None:
                raise ChromiumError("browser is closed")
            try:
                os.write(self._out, json.dumps(message).encode() + b"\0")
            except OSError as exc:
                raise ChromiumError(f"browser gone: {exc}\n{self.log()}") from None
        with self._cond:
            ok = self._cond.wait_for(lambda: msg_id in self._replies or self._closed, timeout)
            reply = self._replies.pop(msg_id, None)
        if reply is None:
            why = "closed the pipe" if ok else f"did not answer in {timeout:g} s"
            raise ChromiumError(f"{method}: browser {why}\n{self.log()}")
        if "error" in reply:
            raise ChromiumError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def events(self, session_id: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self._events
                    if session_id is None or e.get("sessionId") == session_id]

    def wait_event(self, method: str, session_id: str, timeout: float = 30.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self._events:
                if event["method"] == method and event.get("sessionId") == session_id:
                    return event
            return None

        with self._cond:
            self._cond.wait_for(lambda: found() is not None or self._closed, timeout)
            event = found()
        if event is None:
            raise ChromiumError(f"no {method} within {timeout:g} s\n{self.log()}")
        return event

    def open(self, url: str, *, width: int = 1440, height: int = 900) -> Page:
        """A new tab of ``width`` x ``height`` CSS pixels at ``url``, once it has loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", session)
        return page
