"""A headless Chromium driven through chromedriver's W3C WebDriver protocol (JSON over HTTP, the
standard library's client): enough to open a page, press keys, click, type and read the page
back, for the tests (and the benchmark) of `kws mark`'s page.

    with Browser() as browser:
        browser.get(url)
        browser.wait("document.body.dataset.ready === '1'")
        browser.keys("1j")
        browser.run("return document.title")
"""

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
KEYS = {"ArrowRight": "\ue014", "ArrowLeft": "\ue012", "Escape": "\ue00c"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """One chromedriver and one headless Chromium session, with a profile of its own."""

    def __init__(self):
        self.port = _free_port()
        self.profile = tempfile.TemporaryDirectory(prefix="kws-chromium-")
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
                f"--user-data-dir={self.profile.name}"]  # fmt: skip
        options = {"binary": CHROMIUM, "args": args}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        deadline = time.monotonic() + 30
        while True:
            try:
                created = self._call(
                    "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
                )
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.session = created["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"webdriver {method} {path}: {error.read()[:500]!r}") from None

    def _session(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        """Run `script` (a function body) in the page; its return value."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, condition: str, timeout: float = 30.0):
        """Wait until the JavaScript expression `condition` is true in the page; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(f"return {condition};")
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never had {condition}")
            time.sleep(0.02)

    def find(self, css: str) -> str:
        return self._session("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        self._session("POST", f"/element/{element}/clear", {})
        self._session("POST", f"/element/{element}/value", {"text": text})

    def keys(self, *presses: str) -> None:
        """Press each key of `presses` (a character, or a name of `KEYS`) on the page."""
        actions = []
        for press in presses:
            for key in [KEYS[press]] if press in KEYS else list(press):
                actions += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self._session("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard",
                                                       "actions": actions}]})  # fmt: skip

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.driver.terminate()
            self.driver.wait(30)
            self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
