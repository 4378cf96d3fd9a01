"""How `iomon review` feels to use: page load, stepping, zoom and edit-to-update (issue 24).

For each case (the shipped recordings and a simulated 2,000-sweep, 16-channel case), a copy
of the recording and its sidecar is reviewed by a real `iomon review` process and a real
headless Chromium (Debian's, driven by Playwright), and the page's own clock measures:

* **start**: from starting the command to the address printed (read, condition, analyse);
* **page load**: from navigation to every chart drawn (``performance.now()`` at the end of
  the page's start-up: the case's state fetched, 2 x n_channels charts built, the first
  sweep and its stacked sweeps drawn);
* **step**: the next sweep fetched and drawn (all channels, the detail and the trends'
  cursor), median of 10;
* **zoom**: a drag-zoom of the trends (every channel's trend redrawn), median of 10;
* **edits**: click to redrawn page for an exclusion, a hand-placed onset, a theatre event, a
  re-baseline and their undo (the sidecar written, the analysis rerun, the state and the sweep
  fetched again), with the server's share (the analysis and the content).

``--charts`` measures the choice of charting library on the same data (16 trends of 2,000
sweeps, linked zoom, no network): uPlot (shipped) against BokehJS (the JavaScript of Bokeh
and Panel, from the ``bokeh`` package, which must be importable: ``pip install bokeh``).
``--servers`` measures the server's own cost per request: Starlette on uvicorn against the
standard library's ``http.server``, serving the same sweep.

Figures are wall-clock on a shared machine; compare within one run.

    python benchmarks/review_speed.py                     # shipped + 2,000-sweep case
    python benchmarks/review_speed.py --small             # CI: one shipped recording
    python benchmarks/review_speed.py --keep DIR          # keep (and reuse) the simulated case
    python benchmarks/review_speed.py --charts --servers  # the measurements behind the choice
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
CHROMIUM = "/usr/bin/chromium"
#: Eight muscles a side: 16 channels.
MUSCLES = ("TA", "AH", "APB", "ADM", "Deltoid", "Biceps", "Triceps", "ECR")


def large_case(folder: Path) -> Path:
    """A 2,000-sweep, 16-channel DREZ case (a stimulus every 4-5 s for 2.6 h, compressed 20x)."""
    from iomon.sim import Schedule, simulate_case, write_simulated_case

    path = folder / "large.edf"
    if not path.exists():
        schedule = Schedule(positioning_min=6, exposure_min=60, lesioning_min=60, closure_min=30,
                            routine_interval_s=(3.9, 5.3), lesioning_interval_s=(3.9, 5.3))
        sim = simulate_case("focal_recovering", 3, muscles=MUSCLES, schedule=schedule,
                            time_compression=20.0)
        write_simulated_case(sim, folder, stem="large")
    return path


def copy_case(recording: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for companion in recording.parent.glob(recording.stem + ".*"):
        shutil.copy(companion, folder / companion.name)
    return folder / recording.name


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------------------------ one case
STEP = """async () => {
  const S = window.iomonReview, t = performance.now();
  await S.select((S.sweep + 1) % S.state.sweeps.onset_s.length, S.channel);
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t;
}"""
ZOOM = """async (k) => {
  const S = window.iomonReview, x = S.state.sweeps.onset_s, n = x.length;
  const a = Math.floor(n * (0.1 + 0.05 * (k % 5))), b = Math.min(n - 1, a + Math.floor(n / 4));
  const t = performance.now();
  S.trends[0].setScale("x", { min: x[a], max: x[b] });
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t;
}"""
EDIT = """async ([kind, entry]) => {
  const S = window.iomonReview;
  const answer = kind === "undo" ? await S.send("/api/undo", {}, "undone")
                                 : await S.edit(kind, entry, kind);
  if (!answer) throw new Error(document.getElementById("status").textContent);
  return [S.lastUpdateMs, S.state.timings_ms.analysis_s || 0, S.state.timings_ms.content_s || 0];
}"""


def review_case(recording: Path, rounds: int) -> dict:
    """Open ``recording`` in `iomon review` and Chromium; return the measured times."""
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "iomon.cli", "review", str(recording),
                                "--no-browser"], stdout=subprocess.PIPE, text=True)
    url = None
    for line in process.stdout:
        if line.startswith("open "):
            url = line.split()[1]
            break
    if url is None:
        raise SystemExit(f"iomon review did not start on {recording}")
    out = {"start_s": time.perf_counter() - started}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            out["load_ms"] = page.evaluate("window.iomonReview.loadMs")
            state = page.evaluate("window.iomonReview.state")
            out["sweeps"], out["channels"] = (len(state["sweeps"]["onset_s"]),
                                              len(state["channels"]))
            out["step_ms"] = median([page.evaluate(STEP) for _ in range(10 * rounds)])
            out["zoom_ms"] = median([page.evaluate(ZOOM, k) for k in range(10 * rounds)])
            page.fill("#reviewer", "BM")
            out["edits"] = _edits(page, state, rounds)
            browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    return out


def _edits(page, state, rounds) -> dict:
    """Click-to-redrawn times of each kind of edit and its undo (medians over rounds)."""
    n = len(state["sweeps"]["onset_s"])
    sweep, channel = n // 2, state["channels"][0]["name"]
    onset = state["sweeps"]["onset_s"][sweep]
    window = state["channels"][0]["window_ms"]
    edits = {
        "exclude one sweep": ("exclude", {"channel": channel, "sweep": [sweep],
                                          "reason": "benchmark"}),
        "hand-placed onset": ("landmark", {"channel": channel, "sweep": sweep,
                                           "onset_ms": round((window[0] + window[1]) / 2, 2)}),
        "theatre event": ("event", {"at_s": onset, "text": "benchmark", "kind": "other"}),
        "re-baseline": ("rebaseline", {"at_s": onset, "reason": "benchmark"}),
    }
    times = {}
    for _ in range(rounds):
        for name, (kind, entry) in edits.items():
            times.setdefault(name, []).append(page.evaluate(EDIT, [kind, entry]))
            times.setdefault(f"undo {name}", []).append(page.evaluate(EDIT, ["undo", {}]))
    return {name: [median([v[i] for v in values]) for i in range(3)]
            for name, values in times.items()}


def print_case(name: str, m: dict) -> None:
    print(f"\n{name}: {m['sweeps']} sweeps x {m['channels']} channels")
    print("| measure | ms |\n|---|---:|")
    print(f"| start (read, condition, analyse; to the address) | {m['start_s'] * 1e3:,.0f} |")
    print(f"| page load (state fetched, every chart drawn) | {m['load_ms']:,.0f} |")
    print(f"| step to the next sweep (median) | {m['step_ms']:,.1f} |")
    print(f"| zoom the trends (median) | {m['zoom_ms']:,.1f} |")
    print("\n| edit | click to redrawn, ms | server: analysis / content, ms |\n|---|---:|---:|")
    for edit, (total, analysis, content) in m["edits"].items():
        print(f"| {edit} | {total:,.0f} | {analysis:,.0f} / {content:,.0f} |")


# ------------------------------------------------------------------------------ charts
def _trend_values(n_channels: int, n_sweeps: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(3.9, 5.3, n_sweeps))
    y = 100 * np.exp(rng.normal(0, 0.3, (n_channels, n_sweeps)))
    return x, y


UPLOT_PAGE = """<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="{css}">
<body style="margin:0"><div id="box" style="width:700px"></div><script src="{js}"></script>
<script>
const data = {data};
window.charts = [];
let syncing = false;
data.y.forEach((y, c) => {{
  const u = new uPlot({{ width: 700, height: 60, legend: {{ show: false }},
    scales: {{ x: {{ time: false }} }},
    cursor: {{ sync: {{ key: "t" }}, drag: {{ x: true, y: false }} }},
    series: [{{}}, {{ stroke: "#1f5fa8", width: 1, points: {{ show: false }} }}],
    hooks: {{ setScale: [(u, k) => {{ if (k !== "x" || syncing) return; syncing = true;
      const range = {{ min: u.scales.x.min, max: u.scales.x.max }};
      window.charts.forEach((o) => o !== u && o.setScale("x", range));
      syncing = false; }}] }} }}, [data.x, y], document.getElementById("box"));
  window.charts.push(u);
}});
requestAnimationFrame(() => {{ window.drawn = performance.now(); }});
</script>"""

UPLOT_ZOOM = """async (k) => {
  const x = window.charts[0].data[0], n = x.length, a = Math.floor(n * (0.1 + 0.05 * (k % 5)));
  const t = performance.now();
  window.charts[0].setScale("x", { min: x[a], max: x[a + Math.floor(n / 4)] });
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t;
}"""

BOKEH_ZOOM = """async (k) => {
  const doc = Bokeh.documents[0], r = doc.get_model_by_name("x");
  const n = window.n, a = Math.floor(n * (0.1 + 0.05 * (k % 5)));
  const t = performance.now();
  r.setv({ start: window.xs[a], end: window.xs[a + Math.floor(n / 4)] });
  await new Promise((res) => { const wait = () => doc.is_idle ? res() :
    requestAnimationFrame(wait); requestAnimationFrame(wait); });
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t;
}"""


def chart_pages(folder: Path, n_channels: int, n_sweeps: int) -> dict:
    """The same trends as a uPlot page and a BokehJS page (both offline, inline or local)."""
    from importlib import resources

    x, y = _trend_values(n_channels, n_sweeps)
    static = resources.files("iomon.review").joinpath("static")
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        (folder / name).write_bytes(static.joinpath(name).read_bytes())
    data = json.dumps({"x": [round(v, 2) for v in x], "y": [[round(v, 1) for v in row]
                                                           for row in y]})
    (folder / "uplot.html").write_text(UPLOT_PAGE.format(css="uPlot.min.css",
                                                         js="uPlot.iife.min.js", data=data))
    pages = {"uPlot (shipped)": folder / "uplot.html"}
    try:
        from bokeh.embed import file_html
        from bokeh.layouts import column
        from bokeh.models import Range1d
        from bokeh.plotting import figure
        from bokeh.resources import INLINE
    except ImportError:
        print("(bokeh is not importable: the BokehJS page is left out; pip install bokeh)")
        return pages
    shared = Range1d(float(x[0]), float(x[-1]), name="x")
    figures = []
    for row in y:
        f = figure(width=700, height=60, x_range=shared, toolbar_location=None,
                   tools="xwheel_zoom,xpan", output_backend="canvas")
        f.line(x, row, line_width=1)
        f.axis.visible = False
        figures.append(f)
    html = file_html(column(*figures), INLINE, "bokeh")
    script = (f"<script>window.n = {n_sweeps}; window.xs = "
              f"{json.dumps([round(v, 2) for v in x])};</script>")
    (folder / "bokeh.html").write_text(html.replace("</head>", script + "</head>"))
    pages[f"BokehJS {__import__('bokeh').__version__} (Bokeh, Panel)"] = folder / "bokeh.html"
    return pages


def compare_charts(n_channels: int, n_sweeps: int, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        pages = chart_pages(Path(scratch), n_channels, n_sweeps)
        print(f"\nCharts: {n_channels} trends x {n_sweeps} sweeps, linked zoom, offline")
        print("| library | page size, kB | page load, ms | zoom (all trends redrawn), ms |")
        print("|---|---:|---:|---:|")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            for name, path in pages.items():
                loads, zooms = [], []
                for _ in range(rounds):
                    page = browser.new_page(viewport={"width": 800, "height": 1200})
                    page.goto(path.as_uri())
                    if "uPlot" in name:
                        page.wait_for_function("window.drawn !== undefined", polling="raf")
                        loads.append(page.evaluate("window.drawn"))
                        zooms += [page.evaluate(UPLOT_ZOOM, k) for k in range(10)]
                    else:
                        page.wait_for_function("window.Bokeh && Bokeh.documents.length && "
                                               "Bokeh.documents[0].is_idle", polling="raf")
                        loads.append(page.evaluate("performance.now()"))
                        zooms += [page.evaluate(BOKEH_ZOOM, k) for k in range(10)]
                    page.close()
                size = sum(p.stat().st_size for p in path.parent.glob("*")
                           if p.suffix in (".js", ".css") and "uPlot" in name) + \
                    path.stat().st_size
                print(f"| {name} | {size / 1e3:,.0f} | {median(loads):,.0f} | "
                      f"{median(zooms):,.1f} |")
            browser.close()


# ------------------------------------------------------------------------------ servers
def compare_servers(recording: Path, requests: int) -> None:
    """Milliseconds per sweep request: Starlette on uvicorn against http.server."""
    import http.client
    import http.server
    import secrets

    import uvicorn

    from iomon.review.payload import sweep_payload
    from iomon.review.server import make_app, open_socket
    from iomon.review.session import ReviewSession

    with tempfile.TemporaryDirectory() as scratch:
        session = ReviewSession(copy_case(recording, Path(scratch)))
        token = secrets.token_urlsafe(24)
        n = session.result.sweeps.n_sweeps

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the standard library's name
                body = json.dumps(sweep_payload(session, int(self.path.rsplit("/", 1)[1])),
                                  separators=(",", ":")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        stdlib = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=stdlib.serve_forever, daemon=True).start()
        sock = open_socket(0)
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(make_app(session, token, port),
                                               log_level="warning", lifespan="off"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        while not server.started:
            time.sleep(0.05)

        def timed(port, headers):
            times = []
            for k in range(requests):
                connection = http.client.HTTPConnection("127.0.0.1", port)
                t = time.perf_counter()
                connection.request("GET", f"/api/sweep/{k % n}", headers=headers)
                connection.getresponse().read()
                times.append((time.perf_counter() - t) * 1e3)
                connection.close()
            return median(times)

        start = time.perf_counter()
        payload = [sweep_payload(session, k % n) for k in range(requests)]
        building = (time.perf_counter() - start) * 1e3 / requests
        print(f"\nServers: GET one sweep of {recording.name} ({len(json.dumps(payload[0])):,} "
              f"bytes of JSON; building it takes {building:.2f} ms), median of {requests}")
        print("| server | ms per request |\n|---|---:|")
        print(f"| http.server (standard library, threads) | "
              f"{timed(stdlib.server_address[1], {}):.2f} |")
        print(f"| Starlette {__import__('starlette').__version__} on uvicorn "
              f"{uvicorn.__version__} (with the token, Host and Origin checks) | "
              f"{timed(port, {'X-Iomon-Token': token, 'Host': f'127.0.0.1:{port}'}):.2f} |")
        server.should_exit = True
        stdlib.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="one shipped recording, 1 round")
    parser.add_argument("--keep", type=Path, default=None, help="keep the simulated case here")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--charts", action="store_true", help="uPlot against BokehJS")
    parser.add_argument("--servers", action="store_true", help="Starlette against http.server")
    args = parser.parse_args()
    rounds = 1 if args.small else args.rounds
    shipped = sorted((ROOT / "recordings").glob("*.edf"))[: 1 if args.small else None]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if args.charts:
            compare_charts(16, 2000, rounds)
        if args.servers:
            compare_servers(shipped[0], 50 if args.small else 300)
        if args.charts or args.servers:
            return
        cases = [(p.name, p) for p in shipped]
        if not args.small:
            folder = args.keep or scratch / "large"
            folder.mkdir(parents=True, exist_ok=True)
            cases.append(("simulated 2,000-sweep case", large_case(folder)))
        for name, recording in cases:
            copy = copy_case(recording, scratch / "review" / recording.stem)
            print_case(name, review_case(copy, rounds))


if __name__ == "__main__":
    main()
