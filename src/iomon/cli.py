"""The ``iomon`` command: parse arguments, call the pipeline, map errors to exit codes.

Exit status: 0 on success (alerts are a result, not a failure); 2 for bad usage or unreadable
input, with one line on stderr; 1 for anything unexpected.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__

__all__ = ["build_parser", "main"]


def _add_criteria(parser):
    parser.add_argument("--criteria", metavar="NAME|FILE", default=None,
                        help="warning criteria preset (see `iomon criteria`) or a TOML file; "
                             "default: drez")


def _add_batch(sub) -> None:
    batch = sub.add_parser(
        "batch", help="analyse every case of an archive, here or on a Dask cluster; cohort "
                      "tables and alert audit",
        description="A case is a recording with its <stem>.case.toml sidecar (CSV and MAT "
                    "files only with one), found recursively; the archive is only read. Each "
                    "case goes to DIR/<case_id>/ as `iomon analyze` writes it; beside them "
                    "cohort.csv (events per case, as the case reports count them: focal ones "
                    "recovered and unrecovered, the lead time to the end of lesioning), "
                    "audit.csv (each preset scored per case and per side and limb, for a focal "
                    "event and for an unrecovered one, against [clinical] new_deficit and "
                    "deficit_limbs), cohort.html, cohort.pdf and failures.csv. A case whose "
                    "inputs, criteria and iomon version are unchanged is skipped.")
    batch.add_argument("archive", metavar="ARCHIVE", help="folder of recordings and sidecars")
    batch.add_argument("--out", required=True, metavar="DIR", help="output folder")
    batch.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="cases analysed at once on this machine (default: the CPU count)")
    batch.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the cases on a Dask cluster (tcp://host:port; needs the dask "
                            "extra; its workers must see ARCHIVE and DIR at the same paths)")
    batch.add_argument("--criteria", metavar="NAME|FILE", nargs="+", default=None,
                       help="one or more presets or TOML files: the first gives the outputs, "
                            "each is audited against new_deficit (default: drez)")
    batch.add_argument("--no-report", action="store_true",
                       help="no per-case report.html/report.pdf (the cohort report is written)")
    batch.add_argument("--identify", action="store_true",
                       help="let patient identifiers from file headers into the case reports")
    batch.add_argument("--case-timeout", type=float, default=3600.0, metavar="S",
                       help="stop a case after S seconds and count it as failed (default 3600)")
    batch.add_argument("--case-memory", type=float, default=None, metavar="GB",
                       help="address space one case may use, GiB; 0 = no limit (default: the "
                            "machine's memory over --jobs, at least 4)")
    batch.add_argument("--force", action="store_true",
                       help="write into a DIR that holds files iomon did not write (they are "
                            "left as they are; refused otherwise)")
    batch.add_argument("--quiet", action="store_true",
                       help="no progress; only errors and the final line")
    batch.add_argument("--bids", default=None, metavar="ROOT",
                       help="also write every case into the BIDS-EMG dataset ROOT, as `iomon "
                            "bids export` does (its outputs into ROOT/derivatives/iomon)")


def _add_bids(sub) -> None:
    bids = sub.add_parser(
        "bids", help="BIDS-EMG (BIDS 1.11): write cases as a dataset through mne-bids",
        description="`iomon bids export CASE... --root DIR` writes each case into the BIDS "
                    "dataset DIR: sub-<case id>/ses-intraop/emg/ (an EDF/BDF recording "
                    "copied, other formats' sweeps as epoched BDF+D; emg.json, channels.tsv "
                    "with target_muscle, side, limb and role, events.tsv with stimuli, "
                    "markers, phases, theatre events, exclusions and alerts), participants.tsv "
                    "with the clinical facts but no identifier or date, and iomon's outputs "
                    "and settings under derivatives/iomon/. A BIDS recording is read back by "
                    "`iomon analyze` and `iomon batch` like any recording.")
    commands = bids.add_subparsers(dest="bids_command", metavar="SUBCOMMAND", required=True)
    export = commands.add_parser("export", help="write cases into a BIDS-EMG dataset")
    export.add_argument("cases", metavar="CASE", nargs="+",
                        help="a recording (file or folder of sweep files) with its sidecar as "
                             "`iomon analyze` finds it")
    export.add_argument("--root", required=True, metavar="DIR",
                        help="the dataset's root folder (created if missing; cases are added)")
    _add_criteria(export)
    export.add_argument("--no-report", action="store_true",
                        help="no report.html/report.pdf in the derivatives")
    export.add_argument("--keep-dates", action="store_true",
                        help="keep the dates (the surgery date as the session label, the "
                             "recording's start date); by default no date enters the dataset")


_RECORDING_HELP = ("a recording file, or a folder holding a case exported as one file per "
                   "sweep (read in time order as one case); formats: ")
_CASE_HELP = ("case sidecar (default: RECORDING's stem + .case.toml beside it, if any; for a "
              "folder, FOLDER.case.toml beside it or case.toml inside it)")


def _add_review(sub) -> None:
    from .io import formats_text

    review = sub.add_parser(
        "review", help="review a case in the browser: trends, sweeps, edits, sign-off",
        description="Starts a local server (127.0.0.1 only, a random token in its address), "
                    "prints its address and opens the browser. Every edit (exclusion, theatre "
                    "event, re-baseline, hand-placed onset or peak) is written at once to the "
                    "case sidecar with the reviewer and the time, and the analysis reruns; "
                    "sign-off writes the outputs as `iomon analyze` does. The recording is "
                    "only read.")
    review.add_argument("recording", metavar="RECORDING", help=_RECORDING_HELP + formats_text())
    review.add_argument("--case", metavar="FILE", default=None,
                        help="case sidecar the edits go to (default: as for analyze; "
                             "created at the first edit if missing)")
    _add_criteria(review)
    review.add_argument("--out", metavar="DIR", default=None,
                        help="where sign-off writes the outputs (default: RECORDING's stem + "
                             "_iomon)")
    review.add_argument("--port", type=int, default=0, metavar="N",
                        help="port on 127.0.0.1 (default: a free one)")
    review.add_argument("--no-browser", action="store_true",
                        help="print the address only; do not open a browser")


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="simulate a DREZ case, analyse it, write its report")
    demo.add_argument("--out", default="iomon-demo", metavar="DIR",
                      help="output folder (default: iomon-demo)")
    demo.add_argument("--force", action="store_true",
                      help="write into a DIR that holds files iomon did not write, or another "
                           "case's results (only iomon's own files are replaced)")


def _add_analyze(sub) -> None:
    from .io import formats_text

    analyze = sub.add_parser(
        "analyze", help="analyse one recording and write its outputs",
        description="Writes report.html and report.pdf (the conclusion; alerts counted by "
                    "event, each naming the lesioning level where it began; the recording's "
                    "markers and the theatre events numbered as on the figures, typed ones "
                    "('Blood pressure: MAP 55 mmHg') cited; trends of amplitude, threshold "
                    "(when the intensity varies), onset and peak latency, stacked sweeps with "
                    "their intensity; a simulated case marked synthetic on every page, its "
                    "times on the surgical clock it stands for), measurements.csv, alerts.json "
                    "and summary.json.")
    analyze.add_argument("recording", metavar="RECORDING", help=_RECORDING_HELP + formats_text())
    analyze.add_argument("--case", metavar="FILE", default=None, help=_CASE_HELP)
    _add_criteria(analyze)
    analyze.add_argument("--out", metavar="DIR", default=None,
                         help="output folder (default: RECORDING's stem + _iomon)")
    analyze.add_argument("--no-report", action="store_true",
                         help="write measurements.csv, alerts.json and summary.json only")
    analyze.add_argument("--identify", action="store_true",
                         help="let patient identifiers from the file header into the report")
    analyze.add_argument("--force", action="store_true",
                         help="write into a --out that holds another case's results or files "
                              "iomon did not write (only iomon's own files are replaced)")


def _add_info(sub) -> None:
    from .io import formats_text

    info = sub.add_parser("info", help="what the reader sees: channels, sweeps, annotations, "
                                       "phases")
    info.add_argument("recording", metavar="RECORDING", help=_RECORDING_HELP + formats_text())
    info.add_argument("--case", metavar="FILE", default=None, help=_CASE_HELP)


def _add_simulate(sub) -> None:
    from .sim import SCENARIOS

    simulate = sub.add_parser(
        "simulate", help="write a synthetic DREZ case (or a case series) with its ground truth",
        description="Scenarios: " + "; ".join(f"{k}: {v.description}"
                                               for k, v in SCENARIOS.items()),
    )
    simulate.add_argument("--out", required=True, metavar="DIR", help="output folder")
    simulate.add_argument("--scenario", default=None, choices=list(SCENARIOS),
                          metavar="NAME", help="one of: " + ", ".join(SCENARIOS)
                          + " (default: focal_recovering)")
    simulate.add_argument("--cohort", type=int, default=None, metavar="N",
                          help="write a series of N short cases P01..PN instead (scenarios in "
                               "turn, [clinical] filled; the archive `iomon batch` reads)")
    simulate.add_argument("--format", default="edf", choices=["edf"], metavar="FMT",
                          help="file format (edf)")
    simulate.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    simulate.add_argument("--time-compression", type=float, default=None, metavar="X",
                          help="divide the surgical clock by X in the file (default 20, for a "
                               "--cohort 60; 1 = real time, about 1 GB per case); the sidecar's "
                               "[simulation] says so, and reports show the surgical clock")
    simulate.add_argument("--sfreq", type=float, default=5000.0, metavar="HZ",
                          help="sampling rate of the fixed acquisition (default 5000)")
    simulate.add_argument("--acquisition", default="fixed", choices=["fixed", "drawn"],
                          help="fixed: 5 pulses 2 ms apart on the sample grid, as the shipped "
                               "recordings; drawn: the rate, stimulus train (pulses, interval, "
                               "jitter, polarity, shape), amplifier saturation and sweep window "
                               "drawn from the seed, as theatres differ (default fixed)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its help is the command-line documentation)."""
    parser = argparse.ArgumentParser(
        prog="iomon",
        description="Analyse intraoperative TcMEP recordings: measurements, cited alert "
                    "criteria and per-case reports.",
    )
    parser.add_argument("--version", action="version", version=f"iomon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(sub)
    _add_analyze(sub)
    _add_info(sub)
    _add_simulate(sub)
    _add_batch(sub)
    _add_review(sub)
    _add_bids(sub)
    sub.add_parser("criteria", help="the criteria presets (rules, citations), the scope rules "
                                   "and the criterion kinds with their keys")
    return parser


def _cmd_analyze(args) -> int:
    from .pipeline import analyze_file
    from .report.outputs import write_outputs

    recording_path = Path(args.recording)
    result = analyze_file(recording_path, args.case, args.criteria)
    stem = recording_path.name if recording_path.is_dir() else recording_path.stem
    out = Path(args.out) if args.out else recording_path.with_name(stem + "_iomon")
    write_outputs(result, out, report=not args.no_report, identify=args.identify,
                  force=args.force)
    from .report.content import alert_counts

    print(f"{result.case.id}: {result.sweeps.n_sweeps} sweeps; alerts: {alert_counts(result)}; "
          f"criteria {result.criteria.name}; outputs in {out}")
    return 0


def _cmd_demo(args) -> int:
    import shutil
    import tempfile

    from .pipeline import analyze_file
    from .report.content import alert_counts
    from .report.outputs import check_folder, write_outputs
    from .sim import simulate_case, write_simulated_case

    out = Path(args.out)
    check_folder(out, args.force)  # refused before anything is simulated
    out.parent.mkdir(parents=True, exist_ok=True)
    # The recording is written beside the folder first and moved in with the outputs, so
    # that it is recorded as iomon's and replaced by the next demo, never left half-written.
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.recording.partial-", dir=out.parent))
    try:
        sim = simulate_case("focal_recovering", seed=0, case_id="DEMO")
        written = write_simulated_case(sim, scratch, stem="demo")
        result = analyze_file(written)
        write_outputs(result, out, force=args.force,
                      extra={f"recording/{p.name}": p for p in sorted(scratch.iterdir())})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"demo: simulated a DREZ case with a focal drop that recovers "
          f"({', '.join(sim.truth.focal_channels)}); recording in "
          f"{out / 'recording' / written.name}; alerts: {alert_counts(result)}; report in "
          f"{out / 'report.html'}")
    return 0


def _cmd_info(args) -> int:
    import numpy as np

    from .io import read
    from .model.annotations import assign_levels, find_baseline_start, is_stimulus
    from .pipeline import load_case, prepare, refusals

    recording_path = Path(args.recording)
    case = load_case(recording_path, args.case)
    recording = read(recording_path, case.read_options)
    sweeps, phases, sweep_phase = prepare(recording, case)
    # What the reader sees is told whatever an analysis would make of it: what would stop
    # one is listed in the notes, and the recording is not refused for it.
    stops = refusals(recording, case)
    t = sweeps.times
    print(f"file:       {recording.path}")
    print(f"format:     {recording.format} (read with {recording.reader})")
    print(f"duration:   {recording.duration_s:.1f} s")
    print(f"sweeps:     {sweeps.n_sweeps}, {t[0] * 1e3:.1f} to {t[-1] * 1e3:.1f} ms around "
          f"each stimulus, {sweeps.sfreq:g} Hz")
    print(f"window:     {t[0] * 1e3:g} to {t[-1] * 1e3:g} ms ({t.size} samples"
          + (", trimmed to fit the records)" if any("trimmed" in n for n in recording.notes)
             else ")"))
    if stops:
        print("artefact:   not planned (an analysis would stop: see the notes)")
        artefact_notes = []
    else:
        artefact_notes = _print_artefact(sweeps, case)
    intensities = sweeps.column("stim_intensity")
    intensities = intensities[~np.isnan(intensities)]
    if len(intensities):
        unit = sweeps.column("stim_unit")[0]
        print(f"intensity:  {intensities.min():g} to {intensities.max():g} {unit}")
    montages = sorted(set(sweeps.column("montage")) - {""})
    print(f"montage:    {', '.join(montages) if montages else 'not stated'}")
    print(f"case:       {case.id} (sidecar: {case.source or 'none'}), side "
          f"{case.side or 'unknown'}")
    simulated = case.simulation
    if simulated is not None or "iomon.simulate" in (recording.recording_id or "").split():
        compression = simulated.time_compression if simulated else None
        print("synthetic:  simulated by iomon simulate, " + (
            f"time-compressed x{compression:g}" if compression
            else "time compression not stated (no [simulation] in a sidecar)"))
    print(f"channels:   {sweeps.n_channels}")
    for ch in sweeps.channels:
        print(f"  {ch.name:<16} muscle {ch.muscle or 'unknown':<8} side {ch.side or 'unknown':<8}"
              f" limb {ch.limb or 'unknown':<8} role {ch.role or 'unknown'}")
    n_stim = sum(is_stimulus(a.text) for a in recording.annotations)
    others = [a for a in recording.annotations if not is_stimulus(a.text)]
    print(f"annotations: {len(recording.annotations)} ({n_stim} stimulus markers)")
    for a in others[:30]:
        print(f"  {a.onset_s:10.3f} s  {a.text}")
    if len(others) > 30:
        print(f"  ... and {len(others) - 30} more")
    baseline = find_baseline_start(recording.annotations)
    print(f"baseline:   from {baseline:.1f} s" if baseline is not None else
          "baseline:   from the first sweep (no Baseline annotation)")
    print("phases:")
    levels = assign_levels(sweeps.column("onset_s"), phases)
    for p in phases:  # a lesioning sub-phase of a level counts its own sweeps
        n = int(((sweep_phase == p.name) & (levels == (p.level or ""))).sum())
        print(f"  {p.label:<16} {p.start_s:10.1f} to {p.end_s:10.1f} s  {n} sweeps")
    for note in list(recording.notes) + list(case.notes) + artefact_notes:
        print(f"note: {note}")
    for stop in stops:
        print(f"note: an analysis would stop: {stop}")
    return 0


def _print_artefact(sweeps, case) -> list[str]:
    """Print the stimulus artefact span that analysis would blank; return its notes."""
    import numpy as np

    from .pipeline import plan_sweeps_artefact
    from .processing.settings import Settings, resolve

    resolved = resolve(Settings(), case.processing, sweeps.times, sweeps.sfreq,
                       sidecar_path=case.source)
    windows, train, notes = plan_sweeps_artefact(sweeps, resolved.artefact_s)
    if np.isnan(windows).all():
        print("artefact:   not blanked ([processing] artefact_ms = \"none\")")
        return notes
    spans = {tuple(np.round(w * 1e3, 2)) for w in windows}
    how = ("set in the sidecar" if resolved.artefact_s is not None else "no artefact visible"
           if train is None else f"train of {train.n_pulses} pulse(s)"
           + (f" {train.isi_s * 1e3:.2f} ms apart" if train.isi_s else ""))
    if len(spans) == 1:
        start, end = spans.pop()
        print(f"artefact:   blanked {start:g} to {end:g} ms ({how})")
    else:
        print(f"artefact:   blanked per channel ({how}):")
        for ch, (start, end) in zip(sweeps.channels, windows * 1e3):
            print(f"  {ch.name:<16} {start:.2f} to {end:.2f} ms")
    return notes


def _cmd_simulate(args) -> int:
    from .model.errors import InputError
    from .sim import SHIPPED_MUSCLES, SHORT_SCHEDULE, simulate_case, write_simulated_case

    if args.cohort is not None:
        from .sim.cohort import write_cohort

        if args.scenario is not None:
            raise InputError("--scenario and --cohort exclude each other (a series takes its "
                             "scenarios in turn)")
        if args.cohort < 1:
            raise InputError(f"--cohort must be at least 1, got {args.cohort}")
        paths = write_cohort(args.out, args.cohort, seed=args.seed, sfreq=args.sfreq,
                             muscles=SHIPPED_MUSCLES, schedule=SHORT_SCHEDULE,
                             time_compression=args.time_compression or 60.0)
        print(f"wrote {len(paths)} cases ({paths[0].stem} to {paths[-1].stem}) with their "
              f"sidecars ([clinical] filled) and ground truth into {args.out}")
        return 0
    scenario = args.scenario or "focal_recovering"
    sim = simulate_case(scenario, seed=args.seed, sfreq=args.sfreq,
                        time_compression=args.time_compression or 20.0,
                        acquisition="drawn" if args.acquisition == "drawn" else None)
    path = write_simulated_case(sim, args.out, fmt=args.format)
    n_sweeps = len(sim.truth.sweeps.onset_s)
    if path.is_dir():
        print(f"wrote {path} (one EDF+D file per sweep, {n_sweeps} sweeps, case.toml inside) and "
              f"{path.name}.truth.json beside it (scenario {scenario})")
    else:
        print(f"wrote {path}, {path.with_suffix('').name}.case.toml and "
              f"{path.with_suffix('').name}.truth.json ({n_sweeps} sweeps, scenario {scenario})")
    return 0


class _BatchProgress:
    """Batch progress: a bar on a terminal, one line per case otherwise.

    The bar is drawn as soon as the cases are known, advances as each case ends, and its clock
    runs between cases (a thread redraws it every second); the cohort step is shown on it.
    """

    #: Seconds between redraws of the bar while no case ends.
    TICK_S = 1.0

    def __init__(self, stream):
        import threading

        self.stream, self.failed, self.bar = stream, 0, None
        self._closed = threading.Event()

    def start(self, total: int) -> None:
        if not self.stream.isatty():
            print(f"iomon batch: {total} case(s)", file=self.stream, flush=True)
            return
        import threading

        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="case", desc="cases", file=self.stream,
                        dynamic_ncols=True)
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self._closed.wait(self.TICK_S):
            self.bar.refresh()

    def __call__(self, outcome, done: int, total: int) -> None:
        self.failed += outcome.status == "failed"
        if self.bar is not None:
            self.bar.set_postfix(failed=self.failed, refresh=False)
            self.bar.update(1)
            return
        what = ("failed: " + outcome.reason if outcome.status == "failed" else
                "unchanged, skipped" if outcome.status == "unchanged" else "analysed")
        print(f"iomon batch: [{done}/{total}] {outcome.case_id} ({outcome.relative}) {what}",
              file=self.stream, flush=True)

    def stage(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(text)
        else:
            print(f"iomon batch: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        self._closed.set()
        if self.bar is not None:
            self.bar.close()


def _cmd_batch(args) -> int:
    from .batch.run import run_batch
    from .model.errors import InputError

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.case_timeout <= 0 or (args.case_memory is not None and args.case_memory < 0):
        raise InputError("--case-timeout must be above 0 and --case-memory 0 or more")
    memory = None if args.case_memory is None else int(args.case_memory * 2**30)
    progress = None if args.quiet else _BatchProgress(sys.stderr)
    try:
        summary = run_batch(args.archive, args.out, args.criteria or (None,), jobs=args.jobs,
                            scheduler=args.scheduler, report=not args.no_report,
                            identify=args.identify, timeout_s=args.case_timeout,
                            memory_bytes=memory, progress=progress, force=args.force,
                            bids_root=args.bids)
    finally:
        if progress is not None:
            progress.close()
    n, failed = len(summary.outcomes), len(summary.failed)
    print(f"batch: {summary.count('analysed')} case(s) analysed, {summary.count('unchanged')} "
          f"unchanged, {failed} failed; cohort in {Path(args.out) / 'cohort.html'}")
    if failed:
        print(f"iomon: error: {failed} of {n} cases failed (see "
              f"{Path(args.out) / 'failures.csv'})", file=sys.stderr)
        return 2
    return 0


def _cmd_bids(args) -> int:
    from .bids import export_case
    from .model.errors import InputError

    for case in args.cases:
        try:
            done = export_case(case, args.root, criteria=args.criteria,
                               report=not args.no_report, keep_dates=args.keep_dates)
        except InputError as err:
            raise err if err.path is not None else InputError(err.reason, case) from None
        print(f"{done.case_id}: sub-{done.subject}/ses-{done.session}, {done.how}, "
              f"{done.recording_type}, {done.n_stimuli} stimuli, {done.n_alerts} alert(s); "
              f"outputs in {done.derivatives}")
    print(f"BIDS dataset in {args.root} (check it with: bids-validator-deno {args.root})")
    return 0


def _cmd_review(args) -> int:
    from .model.errors import InputError
    from .review.server import serve
    from .review.session import ReviewSession

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be 0 to 65535, got {args.port}")
    session = ReviewSession(args.recording, args.case, args.criteria, args.out)
    try:
        serve(session, args.port, open_browser=not args.no_browser,
              announce=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    print("iomon review: stopped", flush=True)
    return 0


def _cmd_criteria(args) -> int:
    import textwrap

    from .alerting.alerts import scope_rules
    from .alerting.criteria import DEFAULT_PRESET, GENERAL_KEYS, PRESETS
    from .alerting.kinds import criterion_kinds

    def say(text, indent="  "):
        print(textwrap.fill(text, 96, initial_indent=indent, subsequent_indent=indent + "  "))

    for name, c in PRESETS.items():
        print(f"{name}{' (default)' if name == DEFAULT_PRESET else ''}")
        for rule in c.rules():
            say(rule)
        say(f"Source: {c.citation}.")
    print("Scope of an alert (every preset; a report's methods give its preset's numbers):")
    for rule in scope_rules():
        say(rule)
    print('Criterion kinds (alerts.json "criterion"), with the criteria-file keys that set '
          "them:")
    for kind in criterion_kinds():
        keys = ", ".join(kind.keys) if kind.keys else "set with amplitude"
        say(f"{kind.name}: {kind.measures} ({keys}).")
    say(f"A custom preset is a TOML file with a [criteria] table: {', '.join(GENERAL_KEYS)}, "
        "and the kinds' keys above (muscle_drop_percent as a [criteria.muscle_drop_percent] "
        "table of muscle = percent). A kind whose first key is absent is not applied.",
        indent="")
    return 0


COMMANDS = {"analyze": _cmd_analyze, "demo": _cmd_demo, "info": _cmd_info,
            "simulate": _cmd_simulate, "batch": _cmd_batch, "criteria": _cmd_criteria,
            "review": _cmd_review, "bids": _cmd_bids}


def main(argv=None) -> int:
    """Entry point of the ``iomon`` console script."""
    import warnings

    from .model.errors import InputError

    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # Libraries warn about what a damaged file does to them (numpy overflows, neo,
            # MNE); the user gets the result, or one line saying what is wrong, never these.
            warnings.simplefilter("ignore")
            return COMMANDS[args.command](args)
    except InputError as err:
        if err.path is None and getattr(args, "recording", None):
            err = InputError(err.reason, args.recording)  # every refusal names its file
        # One line, whatever a library or a file put into the message.
        text = " ".join(str(err).splitlines())
        print(f"iomon: error: {text}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our output went away (``iomon info x | head``): not an error.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return 0
    except KeyboardInterrupt:
        print("iomon: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else is a bug: say so in one line, keep the details
        if os.environ.get("IOMON_DEBUG"):
            raise
        print(f"iomon: unexpected error ({type(err).__name__}: {err}); run with IOMON_DEBUG=1 "
              "for the traceback and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
