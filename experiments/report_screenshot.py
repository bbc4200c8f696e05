"""Open a report page (``ie-explore report``) in headless Chromium, check it and capture it as PNG.

    python experiments/report_screenshot.py runs/compare/report/index.html --out shots/report

Drives Debian's ``chromium`` over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no extra
package) and checks what a reader would see: every ``<img>`` loaded (complete, non-zero natural size), no console
error, no uncaught exception, no failed request, and the galleries unfolded and laid out (at least one figure with a
non-zero box). Writes ``OUT-top.png`` (the page's first screen: summary, plots) and ``OUT-gallery.png`` (from the
first gallery down), prints what it checked and exits with status 1 when a check fails. An experiment, not a unit
test: CI does not install Chromium (``apt-get install chromium``).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECK = """(() => {
  const imgs = [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}));
  const figs = [...document.querySelectorAll('.gallery figure')];
  const shown = figs.filter(f => f.checkVisibility() && f.getBoundingClientRect().width > 0);
  const first = document.querySelector('.gallery');
  return JSON.stringify({imgs, figures: figs.length, figures_shown: shown.length,
    galleries: document.querySelectorAll('.gallery').length,
    summary_rows: document.querySelectorAll('#summary tr').length - 1,
    first_gallery_y: first ? first.getBoundingClientRect().top + window.scrollY : null,
    height: document.documentElement.scrollHeight});
})()"""


class DevTools:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (JSON messages ended by NUL on fds 3 and 4)."""

    def __init__(self, width: int, height: int):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise SystemExit("chromium is not installed: apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="ie-chromium-")
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def fds():  # the browser reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                "--allow-file-access-from-files", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session = ""

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read())
        raise TimeoutError(f"no {method} within {timeout} s")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed requests among the page's events."""
    out = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log: {p['entry'].get('text', '')} {p['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            out.append(f"request failed: {p.get('errorText', '')}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("page", help="the report's index.html, or a folder holding it (or report/index.html)")
    ap.add_argument("--out", default="report", help="PNG path prefix: writes OUT-top.png and OUT-gallery.png")
    ap.add_argument("--width", type=int, default=1400, help="window width in CSS pixels")
    ap.add_argument("--height", type=int, default=1800, help="height of each screenshot in CSS pixels")
    args = ap.parse_args(argv)
    page = Path(args.page)
    if page.is_dir():
        page = page / "index.html" if (page / "index.html").is_file() else page / "report" / "index.html"
    if not page.is_file():
        print(f"report_screenshot: error: no page at {page}", file=sys.stderr)
        return 2
    browser = DevTools(args.width, args.height)
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        browser.session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height,
                     deviceScaleFactor=1, mobile=False)
        browser.send("Page.navigate", url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        state = json.loads(browser.send("Runtime.evaluate", expression=CHECK, returnByValue=True)["result"]["value"])
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shots = []
        tops = [("top", 0)] + ([("gallery", max(0, int(state["first_gallery_y"]) - 60))]
                               if state["first_gallery_y"] is not None else [])
        for name, y in tops:
            shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                clip={"x": 0, "y": y, "width": args.width,
                                      "height": min(args.height, state["height"] - y), "scale": 1})
            path = out.with_name(f"{out.name}-{name}.png")
            path.write_bytes(base64.b64decode(shot["data"]))
            shots.append(path)
        issues = problems(browser.events)
    finally:
        browser.close()
    broken = [i["src"] for i in state["imgs"] if not i["ok"]]
    print(f"page: {page}")
    print(f"images: {len(state['imgs'])} <img>, {len(state['imgs']) - len(broken)} loaded, {len(broken)} broken"
          + (f" (first: {broken[0]})" if broken else ""))
    print(f"galleries: {state['galleries']}, figures {state['figures']}, laid out (unfolded) {state['figures_shown']}")
    print(f"summary table rows: {state['summary_rows']}")
    print(f"console errors, exceptions, failed requests: {len(issues)}" + "".join(f"\n  {i}" for i in issues))
    print("screenshots: " + ", ".join(str(s) for s in shots))
    ok = not broken and not issues and state["figures_shown"] > 0 and state["summary_rows"] > 0
    print("all checks passed" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
