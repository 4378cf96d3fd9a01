"""Alerting: unit behaviour, then scenarios against the simulator's ground truth."""

import numpy as np
import pytest

from iomon.alerting.alerts import sustained_episodes
from iomon.alerting.criteria import PRESETS, Criteria, load_criteria
from iomon.alerting.kinds import Compared
from iomon.alerting.threshold import Thresholds
from iomon.model.errors import InputError


def test_sustained_episode_needs_n_of_m_and_recovers_likewise():
    dropped = np.array([0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    assert sustained_episodes(dropped, 4, 5) == [(5, 12)]
    # A single low sweep is never an alert.
    assert sustained_episodes(np.array([0, 0, 1, 0, 0, 0], bool), 4, 5) == []
    # An episode still open at the end has no recovery.
    assert sustained_episodes(np.array([0, 1, 1, 1, 1], bool), 3, 4) == [(3, None)]


@pytest.mark.parametrize("channel, controls, expected", [
    (20.0, 100.0, {"focal"}),
    (20.0, 150.0, {"focal"}),     # controls that rose do not make the drop smaller
    (30.0, 35.0, {"systemic"}),
    (45.0, 70.0, set()),          # a fade shared in part with the controls: a note, no alert
    (20.0, 60.0, {"focal"}),      # a focal drop on top of a fade
    (20.0, 74.5, {"focal"}),      # the channel fell, its controls held: never systemic
    (100.0, 40.0, set()),         # only the controls fell: nothing on this channel
    (20.0, 35.0, {"systemic"}),   # deeper than controls that are down too: still systemic
    (10.0, 35.0, {"focal"}),      # ... unless clearly deeper (29 %: below 37.5 % of them)
])
def test_scope_is_relative_to_the_controls(channel, controls, expected):
    from iomon.alerting.alerts import detect_alerts, unexplained_drops

    channels, percent, present, valid, onsets, phases = _arrays()
    percent[12:22, 0] = channel
    percent[12:22, 2:] = controls
    alerts = [a for a in detect_alerts(Compared(percent, present),
                                       valid, channels, np.ones(4, bool),
                                       onsets, phases, PRESETS["fifty"])
              if a.channel == "L TA"]
    assert {a.scope for a in alerts} == expected
    assert len(alerts) == len(expected)
    for alert in alerts:
        # The controls' real level, uncapped; systemic only when they fell by the criterion.
        assert alert.controls_percent == pytest.approx(controls, abs=0.1)
        # Called at the 4th low sweep; the channel first met the criterion at the 1st.
        assert (alert.onset_sweep, alert.first_met_sweep) == (15, 12)
        assert alert.scope != "systemic" or alert.controls_percent <= 50
    unexplained = [d.channel for d in unexplained_drops(percent, valid, channels,
                                                        np.ones(4, bool), onsets,
                                                        PRESETS["fifty"])]
    assert ("L TA" in unexplained) == (channel <= 50 and not expected)


def test_one_channel_alerts_with_scope_undetermined():
    """Nothing to compare with: the alert is raised, its scope undetermined (issue 9)."""
    import json

    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays(n_channels=1)
    percent[12:22, 0] = 20.0
    alerts = detect_alerts(Compared(percent, present), valid, channels, np.ones(1, bool), onsets,
                           phases, PRESETS["fifty"])
    assert [(a.scope, a.controls_percent, a.recovered) for a in alerts] == [
        ("undetermined", None, True)]
    json.dumps([a.as_dict() for a in alerts], allow_nan=False)
    # Controls that respond at baseline but are all rejected when the alert is called.
    channels, percent, present, valid, onsets, phases = _arrays()
    percent[12:22, 0] = 20.0
    valid[10:24, 1:] = False
    alerts = detect_alerts(Compared(percent, present), valid, channels, np.ones(4, bool), onsets,
                           phases, PRESETS["fifty"])
    assert [(a.channel, a.scope, a.controls_percent) for a in alerts] == [
        ("L TA", "undetermined", None)]


def test_setup_sweeps_never_open_an_alert():
    """A team ramping the voltage before the Baseline marker is not a drop (issue 9)."""
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays()
    percent[:8] = 15.0  # every channel far below the 400 V baseline during the ramp
    setup = np.arange(30) < 8
    assert detect_alerts(Compared(percent, present),
                         valid, channels, np.ones(4, bool), onsets, phases,
                         PRESETS["fifty"], setup=setup) == []
    assert detect_alerts(Compared(percent, present),
                         valid, channels, np.ones(4, bool), onsets, phases,
                         PRESETS["fifty"])


def test_presets_and_custom_files(tmp_path):
    assert load_criteria().name == "drez"
    assert load_criteria("jssr70").threshold_percent == 30.0
    good = tmp_path / "mine.toml"
    good.write_text("[criteria]\namplitude_drop_percent = 60\nsustained_n = 2\n"
                    "sustained_m = 3\ncitation = 'local protocol'\n")
    mine = load_criteria(good)
    assert (mine.name, mine.threshold_percent, mine.sustained_n) == ("mine", 40.0, 2)
    for text, message in [
        ("[criteria]\namplitude_drop_percent = -5\n", "amplitude_drop_percent"),
        ("[criteria]\namplitude_drop_percent = 50\nsustained_n = 5\nsustained_m = 3\n",
         "sustained_n <= sustained_m"),
        ("[criteria]\namplitude_drop_percent = 50\nwobble = 1\n", "unknown key 'wobble'"),
        ("[criteria]\nsustained_n = 2\n", "needs amplitude_drop_percent"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(InputError, match=message) as info:
            load_criteria(bad)
        assert "bad.toml" in str(info.value)
    with pytest.raises(InputError, match="unknown criteria preset"):
        load_criteria("nonsense")
    with pytest.raises(InputError):
        Criteria("x", "", 50.0, sustained_n=0, sustained_m=3)


def focal_channels(result):
    return sorted({a.channel for a in result.alerts if a.scope == "focal"})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stable_case_raises_no_alert(cases, seed):
    _, result = cases.analyse("stable", seed)
    assert result.alerts == ()


@pytest.mark.parametrize("scenario", ["focal_recovering", "focal_persistent", "loss"])
def test_focal_drop_alerts_exactly_the_injected_channels(cases, scenario):
    sim, result = cases.analyse(scenario, 0)
    expected = list(sim.truth.focal_channels)
    assert focal_channels(result) == expected
    assert all(a.scope == "focal" for a in result.alerts)
    event = sim.truth.events[0]
    onsets = result.sweeps.table["onset_s"].to_numpy()
    first_hit = int(np.flatnonzero(onsets >= event.start_s)[0])
    for alert in result.alerts:
        # Called within 4 sweeps of the first dropped one (4 of 5 valid sweeps; a rejected
        # sweep may add one), during lesioning, one episode per channel.
        assert first_hit <= alert.onset_sweep <= first_hit + 4
        assert alert.phase == "lesioning"
        assert alert.nadir_percent < 40
        assert alert.criterion == ("loss" if scenario == "loss" else "amplitude")
    assert len(result.alerts) == len(expected)
    for alert in result.alerts:
        if event.recovers:
            assert alert.recovered
            end_sweep = int(np.flatnonzero(onsets >= event.end_s)[0])
            assert end_sweep <= alert.recovery_sweep <= end_sweep + 5
        else:
            assert not alert.recovered and alert.recovery_sweep is None


def test_systemic_drop_is_classified_systemic(cases):
    sim, result = cases.analyse("systemic", 0)
    assert result.alerts, "a drop to 30 % on every channel must alert"
    assert all(a.scope == "systemic" for a in result.alerts)
    legs = {a.channel for a in result.alerts} & {"L TA", "L AH", "R TA", "R AH"}
    assert legs == {"L TA", "L AH", "R TA", "R AH"}
    assert all(a.recovered for a in result.alerts)


@pytest.mark.parametrize("seed", [0, 1])
def test_cautery_is_not_a_drop(cases, seed):
    sim, result = cases.analyse("cautery", seed)
    contaminated = np.flatnonzero(sim.truth.sweeps.contaminated)
    # Contaminated sweeps are rejected, so they can neither start nor deepen an episode.
    assert result.rejected[contaminated].all()
    for alert in result.alerts:
        assert alert.onset_sweep not in contaminated
    # The leg muscles (CV 27-35 %) stay quiet; a hand muscle (CV 48 %) may cross 50 % by
    # chance, which is the variability the criterion itself does not model.
    assert not {a.channel for a in result.alerts} & {"L TA", "L AH", "R TA", "R AH"}


def test_absent_channels_never_alert(cases):
    _, result = cases.analyse("loss", 0)
    absent = {ch.name for ch, p in zip(result.sweeps.channels, result.baseline.present)
              if not p}
    assert absent == {"L Deltoid", "L Biceps"}
    assert not absent & {a.channel for a in result.alerts}


def test_stricter_criterion_sees_fewer_alerts(cases):
    _, default = cases.analyse("focal_recovering", 0)
    _, strict = cases.analyse("focal_recovering", 0, criteria="macdonald2017")
    assert strict.criteria.name == "macdonald2017"
    assert {a.channel for a in strict.alerts} <= {a.channel for a in default.alerts}


# ------------------------------------------------------------ criteria beyond amplitude
def _arrays(n_sweeps=30, n_channels=4):
    from iomon.model.sweeps import Channel

    channels = [Channel("L TA", "TA", "left", "lower", "test"),
                Channel("L APB", "APB", "left", "upper", "test"),
                Channel("R TA", "TA", "right", "lower", "control"),
                Channel("R APB", "APB", "right", "upper", "control")][:n_channels]
    rng = np.random.default_rng(0)
    percent = 100 * np.exp(rng.normal(0, 0.1, (n_sweeps, n_channels)))
    present = np.ones((n_sweeps, n_channels), bool)
    valid = np.ones((n_sweeps, n_channels), bool)
    onsets = np.arange(n_sweeps) * 10.0
    phases = np.array(["pre-lesioning"] * 10 + ["lesioning"] * 10 + ["post-lesioning"] * 10)
    return channels, percent, present, valid, onsets, phases


def test_focal_alert_before_lesioning_is_informational_under_drez():
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays()
    percent[3:9, 0] = 20.0   # before lesioning
    percent[14:20, 0] = 20.0  # during lesioning
    alerts = detect_alerts(Compared(percent, present), valid, channels, np.ones(4, bool), onsets,
                           phases, PRESETS["drez"])
    assert [(a.phase, a.informational) for a in alerts] == [("pre-lesioning", True),
                                                             ("lesioning", False)]
    plain = detect_alerts(Compared(percent, present), valid, channels, np.ones(4, bool), onsets,
                          phases, PRESETS["fifty"])
    assert not any(a.informational for a in plain)


def test_per_muscle_thresholds():
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays()
    percent[12:20, :2] = 40.0  # TA and APB on the left both at 40 %
    strict_hands = Criteria("hands80", "", 50.0, muscle_drop_percent=(("APB", 80.0),))
    alerts = detect_alerts(Compared(percent, present), valid, channels, np.ones(4, bool), onsets,
                           phases, strict_hands)
    assert {a.channel for a in alerts} == {"L TA"}


def test_latency_and_morphology_criteria():
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays()
    latency = np.full(percent.shape, 0.030)
    latency[15:25, 0] = 0.034   # +13 % on L TA only
    n_phases = np.full(percent.shape, 4)
    n_phases[15:25, 1] = 2      # L APB loses two phases
    criteria = Criteria("both", "", 50.0, latency_increase_percent=10.0, phase_loss=2)
    compared = Compared(percent, present,
                        {"onset_latency": latency, "n_phases": n_phases},
                        {"onset_latency": np.full(percent.shape, 0.030),
                         "n_phases": np.full(percent.shape, 4.0)})
    alerts = detect_alerts(compared, valid, channels, np.ones(4, bool), onsets, phases,
                           criteria)
    found = {(a.channel, a.criterion, a.scope, a.recovered) for a in alerts}
    assert found == {("L TA", "latency", "focal", True), ("L APB", "morphology", "focal", True)}
    latency_alert = next(a for a in alerts if a.criterion == "latency")
    assert latency_alert.nadir_percent == pytest.approx(113.3, abs=0.1)
    # The same latency change on every channel is systemic (temperature, anaesthesia).
    latency[15:25] = 0.034
    compared = Compared(percent, present, {"onset_latency": latency},
                        {"onset_latency": np.full(percent.shape, 0.030)})
    alerts = detect_alerts(compared, valid, channels, np.ones(4, bool), onsets, phases,
                           Criteria("lat", "", 50.0, latency_increase_percent=10.0))
    assert alerts and all(a.scope == "systemic" for a in alerts)


def test_latency_increase_end_to_end(small_case):
    """A 4 ms delay injected into L TA's sweeps after the first third raises a latency alert."""
    import dataclasses

    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    recording = read(small_case[1])
    sweeps = recording.sweeps
    ta = sweeps.ch_names.index("L TA")
    shift = int(0.004 * sweeps.sfreq)
    late = np.arange(sweeps.n_sweeps) >= sweeps.n_sweeps // 2
    # Delay everything after 20 ms (the TA response, not the stimulus artefact) by 4 ms.
    cut = int(np.searchsorted(sweeps.times, 0.020))
    data = sweeps.data.copy()
    data[late, ta, cut + shift:] = sweeps.data[late, ta, cut:-shift]
    recording = dataclasses.replace(recording, sweeps=sweeps.replace(data=data))
    criteria = Criteria("lat10", "", 50.0, latency_increase_percent=10.0)
    result = analyze(recording, load_case(small_case[1]), criteria)
    latency_alerts = [a for a in result.alerts if a.criterion == "latency"]
    assert {a.channel for a in latency_alerts} == {"L TA"}
    assert all(a.scope == "focal" for a in latency_alerts)
    first_late = int(np.flatnonzero(late)[0])
    assert first_late <= latency_alerts[0].onset_sweep <= first_late + 5


def test_criteria_file_with_every_key(tmp_path):
    path = tmp_path / "full.toml"
    path.write_text('[criteria]\nname = "full"\namplitude_drop_percent = 60\n'
                    'latency_increase_percent = 10\nphase_loss = 2\n'
                    'threshold_rise_v = 150\nfocal_phases = ["lesioning"]\n'
                    'focal_until_end = true\n'
                    '[criteria.muscle_drop_percent]\nAPB = 80\n')
    criteria = load_criteria(path)
    assert criteria.focal_phases == ("lesioning",)
    assert criteria.threshold_rise_v == 150.0 and criteria.focal_until_end is True
    assert criteria.drop_percent_for(["APB", "TA", None]).tolist() == [80.0, 60.0, 60.0]
    assert criteria.as_dict()["muscle_drop_percent"] == {"APB": 80.0}
    for bad, key in (("phase_loss = 0", "phase_loss"), ("threshold_rise_v = -100",
                                                        "threshold_rise_v"),
                     ("threshold_rise_v = 'high'", "threshold_rise_v"),
                     ("focal_until_end = 'yes'", "focal_until_end")):
        path.write_text(f"[criteria]\namplitude_drop_percent = 60\n{bad}\n")
        with pytest.raises(InputError, match=key):
            load_criteria(path)


def test_without_phase_markers_drez_focal_alerts_still_count(cases):
    """No lesioning markers: phases are unknown, so no alert may be demoted to informational."""
    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    sim, path = cases.write("focal_persistent", 0)
    import dataclasses

    recording = read(path)
    recording = dataclasses.replace(recording, annotations=[
        a for a in recording.annotations if a.text.startswith("TcMEP")])
    result = analyze(recording, load_case(path))
    assert set(result.sweep_phase) == {"unassigned"}
    focal = [a for a in result.alerts if a.scope == "focal"]
    assert {a.channel for a in focal} == set(sim.truth.focal_channels)
    assert not any(a.informational for a in focal)
    assert any("focal alerts count in every phase" in note.words for note in result.notes)


# ------------------------------------------------------------ threshold elevation
def test_threshold_brackets_follow_the_newest_agreeing_sweeps():
    from iomon.alerting.threshold import threshold_brackets

    intensity = [200, 250, 300, 300, 300, 350, 300, 350, 250]
    present = [0, 1, 1, 0, 0, 1, 0, 1, 1]
    lower, upper = threshold_brackets(intensity, present)
    # Ramp: fails at 200, responds at 250.
    assert (lower[1], upper[1]) == (200, 250)
    # Fails at 300 after responding at 300: the threshold moved; only the newest sweeps count.
    assert (lower[3], upper[3]) == (300, np.inf)
    assert (lower[5], upper[5]) == (300, 350)
    assert (lower[7], upper[7]) == (300, 350)
    # Responds at 250 again: the threshold came back down.
    assert (lower[8], upper[8]) == (-np.inf, 250)


def test_threshold_brackets_hold_the_true_threshold():
    """Noise-free responses from a known threshold that steps up: the brackets hold it."""
    from iomon.alerting.threshold import threshold_brackets

    rng = np.random.default_rng(7)
    intensity = rng.choice(np.arange(100.0, 650.0, 50.0), 400)
    truth = np.where(np.arange(400) < 200, 275.0, 425.0)
    lower, upper = threshold_brackets(intensity, intensity >= truth)
    holds = (lower < truth) & (truth <= upper)
    assert holds[:200].all()
    # Older responses at 300-400 V agree with the new data until those intensities fail
    # again: once each has been tried after the step, the bracket holds the new threshold.
    after = intensity[200:]
    revealed = 200 + max(int(np.flatnonzero(after == v)[0]) for v in (300.0, 350.0, 400.0))
    assert holds[revealed:].all()
    # And once 450 V has been tried too, it is the tightest the 50 V grid allows.
    tight = max(revealed, 200 + int(np.flatnonzero(after == 450.0)[0]))
    assert np.all(lower[tight:] == 400) and np.all(upper[tight:] == 450)


def test_threshold_rise_criterion_and_its_evidence():
    from iomon.alerting.criteria import threshold_raised

    base = 250.0
    lower = np.array([-np.inf, 300, 300, 300, 400, -np.inf])
    upper = np.array([400, 330, 350, np.inf, 450, 450])
    met = threshold_raised(lower, upper, base, 100.0)
    # 330 - 250 < 100 <= 350 - 250; responding only at high intensities proves nothing; no
    # response at all is a loss, not a threshold.
    assert list(met) == [False, False, True, False, True, False]


def _threshold_arrays():
    channels, percent, present, valid, onsets, phases = _arrays()
    base = np.full(percent.shape, 250.0)
    lower = np.full(percent.shape, -np.inf)
    upper = np.full(percent.shape, 300.0)
    return channels, percent, present, valid, onsets, phases, (lower, upper, base)


def test_threshold_alert_lifecycle_and_scope():
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases, (lower, upper, base) = \
        _threshold_arrays()
    criteria = PRESETS["macdonald2017"]
    lower[12:22, 0], upper[12:22, 0] = 350.0, 400.0  # L TA needs 150 V more
    lower[22:, 0], upper[22:, 0] = -np.inf, 450.0    # nothing said: neither alert nor recovery
    tracks = Thresholds(lower, upper, base)  # the same arrays, changed below
    alerts = detect_alerts(Compared(percent, present, thresholds=tracks),
                           valid, channels, np.ones(4, bool), onsets,
                           phases, criteria)
    assert [(a.channel, a.criterion, a.scope, a.recovered) for a in alerts] == [
        ("L TA", "threshold", "focal", False)]
    assert alerts[0].onset_sweep == 15 and alerts[0].threshold_rise_v == 150.0
    assert alerts[0].nadir_percent == 160.0
    # Called at the 4th raised sweep of 5; the rise began at the first of them.
    assert (alerts[0].first_met_sweep, alerts[0].first_met_s) == (12, onsets[12])
    # Responds at 300 V again: recovered.
    upper[22:, 0] = 300.0
    again = detect_alerts(Compared(percent, present, thresholds=tracks),
                          valid, channels, np.ones(4, bool), onsets,
                          phases, criteria)
    assert again[0].recovered and again[0].recovery_sweep == 25
    # The controls' thresholds rose with it (anaesthesia): systemic.
    lower[12:22], upper[12:22] = 350.0, 400.0
    shared = detect_alerts(Compared(percent, present, thresholds=tracks),
                           valid, channels, np.ones(4, bool), onsets,
                           phases, criteria)
    assert {a.scope for a in shared if a.channel == "L TA"} == {"systemic"}
    # Presets without the criterion ignore it.
    assert detect_alerts(Compared(percent, present, thresholds=tracks),
                         valid, channels, np.ones(4, bool), onsets, phases,
                         PRESETS["jssr70"]) == []


def test_threshold_scenario_end_to_end(cases):
    sim, result = cases.analyse("threshold", 1)
    expected = list(sim.truth.focal_channels)
    raised = [a for a in result.alerts if a.criterion == "threshold"]
    assert sorted(a.channel for a in raised) == expected == ["L AH", "L TA"]
    rise = sim.truth.events[0].rise_v
    for alert in raised:
        assert alert.scope == "focal" and not alert.recovered
        # 50 V steps and a baseline threshold that is an upper bound: within one step or two.
        assert rise - 50 <= alert.threshold_rise_v <= rise + 100
    assert not result.notes


@pytest.mark.parametrize("intensity, unit, note", [
    (np.nan, "", "gives no stimulus intensities"),
    (400.0, "V", "never changed"),
    (30.0, "mA", "in mA"),
])
def test_threshold_criterion_off_with_a_note(small_case, intensity, unit, note):
    import dataclasses

    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    recording = read(small_case[1])
    table = recording.sweeps.table
    table["stim_intensity"] = intensity
    table["stim_unit"] = unit
    recording = dataclasses.replace(recording, sweeps=recording.sweeps.replace(table=table))
    result = analyze(recording, load_case(small_case[1]))
    assert any(note in n.words and n.code == "threshold" for n in result.notes)
    assert not any(a.criterion == "threshold" for a in result.alerts)
    # The PDF's summary page carries the notes as the HTML report does.
    from iomon.report.content import build_content

    content = build_content(result, result.documents(), [])
    assert any(note in n for n in content.notes)


def test_scope_notes_without_controls():
    from iomon.alerting.alerts import scope_notes
    from iomon.model.sweeps import Channel

    test = Channel("L TA", "TA", "left", "lower", "test")
    control = Channel("R TA", "TA", "right", "lower", "control")
    unknown = Channel("EMG2", None, None, None, None)
    assert scope_notes([test, control], [True, True]) == []
    assert "median of all the others" in scope_notes([test, unknown], [True, True])[0].words
    # A control that does not respond at baseline cannot decide anything.
    assert scope_notes([test, control, unknown], [True, False, True])
    only = scope_notes([test, control], [True, False])[0].words
    assert "cannot be told focal or systemic" in only and "undetermined" in only
    assert scope_notes([test], [False]) == []


def test_drez_counts_focal_alerts_to_the_end_whatever_later_phases_are_called():
    from iomon.alerting.alerts import detect_alerts

    channels, percent, present, valid, onsets, phases = _arrays()
    phases = np.array(["exposure"] * 10 + ["lesioning"] * 10 + ["closure"] * 10)
    percent[22:30, 0] = 20.0  # during closure, a phase a sidecar named
    drez = detect_alerts(Compared(percent, present),
                         valid, channels, np.ones(4, bool), onsets, phases,
                         PRESETS["drez"])
    assert [(a.phase, a.informational) for a in drez] == [("closure", False)]
    only_lesioning = Criteria("les", "", 50.0, focal_phases=("lesioning",))
    strict = detect_alerts(Compared(percent, present),
                           valid, channels, np.ones(4, bool), onsets, phases,
                           only_lesioning)
    assert [(a.phase, a.informational) for a in strict] == [("closure", True)]


def test_thresholds_are_followed_per_montage_and_epoch():
    from iomon.alerting.threshold import reference_sweeps, track_thresholds

    #            ramp A      ramp B   | A rises       | re-baselined (epoch 1)
    intensity = np.array([200, 300, 200, 300, 300, 400, 400, 300, 400, 300])
    montage = np.array(["A", "A", "B", "B", "A", "A", "B", "A", "A", "A"])
    epoch = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    responds = np.array([[0, 1, 1, 1, 0, 1, 1, 0, 1, 0]], bool).T
    chosen = np.array([0, 1, 0, 1, 0, 0, 0, 0, 1, 0], bool)
    reference = reference_sweeps(epoch, chosen)
    assert reference.tolist() == [1, 1, 1, 1, 0, 0, 0, 1, 1, 0]
    groups = np.char.add(montage, epoch.astype(str))
    valid = np.ones_like(responds)
    lower, upper, base = track_thresholds(intensity, responds, valid, groups, reference)
    # Montage A: 300 V at baseline; fails at 300, responds at 400 later: threshold (300, 400].
    assert (base[5, 0], lower[5, 0], upper[5, 0]) == (300, 300, 400)
    # Montage B responded at 200 V: its own baseline, untouched by A's rise.
    assert (base[6, 0], upper[6, 0]) == (200, 200)
    # After re-baselining, A starts afresh: its baseline threshold is 400 V.
    assert base[9, 0] == 400 and lower[9, 0] == 300
    # Rejected sweeps and unknown intensities tell nothing.
    valid[5] = False
    intensity = intensity.astype(float)
    intensity[4] = np.nan
    lower, upper, base = track_thresholds(intensity, responds, valid, groups, reference)
    assert np.isnan(upper[[4, 5], 0]).all() and upper[1, 0] == 300


@pytest.mark.parametrize("preset, level, alerts", [
    ("drez", 50.0, False),      # Son 2017: "more than 50 %": a drop of exactly 50 % does not
    ("drez", 49.9, True),
    ("fifty", 50.0, False),
    ("jssr70", 30.0, True),     # Kobayashi 2014: "70 % or more": exactly 70 % does
    ("jssr70", 30.1, False),
    ("macdonald2017", 20.0, False),
])
def test_the_boundary_is_the_cited_one_and_stated_so(preset, level, alerts):
    """Issue 10: a drop of exactly the criterion, decided, tested and stated the same way."""
    from iomon.alerting.alerts import detect_alerts

    criteria = PRESETS[preset]
    channels, percent, present, valid, onsets, phases = _arrays()
    percent[12:22, 0] = level
    found = [a for a in detect_alerts(Compared(percent, present), valid, channels, np.ones(4, bool),
                                      onsets, phases, criteria) if a.channel == "L TA"]
    assert bool(found) == alerts
    words = (f"{criteria.amplitude_drop_percent:g} % or more" if criteria.drop_inclusive
             else f"more than {criteria.amplitude_drop_percent:g} %")
    assert words in criteria.rule()
    assert words in criteria.as_dict()["rule"]


# ------------------------------------------------------------ the sequential test (issue 15)
def test_cusum_is_quiet_on_a_stable_series_and_calls_a_sustained_drop():
    from iomon.alerting.alerts import cusum_episodes

    rng = np.random.default_rng(3)
    limit, drop_log = np.log(1e5), -np.log(0.4)  # a 60 % drop looked for
    stable = rng.normal(0.0, 0.3, 400)
    assert cusum_episodes(stable, drop_log, limit, 10) == []
    # A 60 % drop for 12 sweeps on a channel that varies like tibialis anterior.
    series = rng.normal(0.0, 0.27, 120)
    series[60:72] += np.log(0.4)
    [(first, start, end)] = cusum_episodes(series, drop_log, limit, 10)
    assert 60 <= first <= start < 66  # the evidence starts with the drop, called within it
    assert 72 <= end <= 78            # recovery called after the drop ends, not before
    # Open at the end: no recovery.
    series[100:] += np.log(0.4)
    assert cusum_episodes(series, drop_log, limit, 10)[-1][2] is None


def test_cusum_never_calls_on_a_single_sweep():
    from iomon.alerting.alerts import cusum_episodes

    rng = np.random.default_rng(4)
    series = rng.normal(0.0, 0.3, 80)
    series[40] = np.log(0.001)  # one sweep with nothing in it
    assert cusum_episodes(series, -np.log(0.4), np.log(1e5), 10) == []
    # Two such sweeps in a row are evidence enough, and one normal sweep does not end it.
    series[41] = np.log(0.001)
    [(first, start, end)] = cusum_episodes(series, -np.log(0.4), np.log(1e5), 10)
    assert (first, start) == (40, 41) and end >= 43


def test_cusum_reference_learns_only_from_stable_sweeps():
    """Sweeps of an episode never join the reference, so a long drop stays a drop."""
    from iomon.alerting.alerts import cusum_episodes, standardised

    rng = np.random.default_rng(5)
    series = rng.normal(0.0, 0.3, 200)
    series[50:] += np.log(0.3)
    [(_, start, end)] = cusum_episodes(series, -np.log(0.4), np.log(1e5), 10)
    assert start < 55 and end is None
    # The self-starting standardisation: a sweep at the reference mean is 0, and a short
    # reference weighs a deviation less than a long one with the same spread.
    reference = rng.normal(0.0, 0.3, 5)
    assert standardised(reference.mean(), reference)[0] == pytest.approx(0.0, abs=1e-12)
    long = np.r_[reference, reference, reference, reference]
    low = reference.mean() - 1.0
    assert standardised(low, reference)[0] > standardised(low, long)[0]


def test_cusum_preset_is_named_cited_and_leaves_the_others_unchanged(tmp_path):
    cusum = load_criteria("drez-cusum")
    assert cusum.sequential and not any(p.sequential for n, p in PRESETS.items()
                                        if n != "drez-cusum")
    for source in ("Page 1954", "Wald 1945", "Hawkins 1987", "MacDonald 2017"):
        assert source in cusum.citation
    rule = cusum.rule()
    assert "CUSUM" in rule and f"{cusum.cusum_drop_percent:g} %" in rule
    assert f"first {cusum.cusum_reference_sweeps} valid sweeps" in rule
    # Presets without the test write what they wrote before it existed.
    assert not any(k.startswith("cusum") for k in PRESETS["drez"].as_dict())
    assert cusum.as_dict()["cusum_drop_percent"] == cusum.cusum_drop_percent
    mine = tmp_path / "mine.toml"
    mine.write_text("[criteria]\namplitude_drop_percent = 50\ncusum_drop_percent = 70\n"
                    "cusum_false_alarm_rate = 1e-4\ncusum_reference_sweeps = 12\n")
    assert load_criteria(mine).cusum_limit == pytest.approx(np.log(1e4))
    for key, value in [("cusum_drop_percent", "100"), ("cusum_false_alarm_rate", "0"),
                       ("cusum_reference_sweeps", "2"), ("cusum_drop_percent", "'x'")]:
        mine.write_text(f"[criteria]\namplitude_drop_percent = 50\n{key} = {value}\n")
        with pytest.raises(InputError, match=key):
            load_criteria(mine)


def test_cusum_alerts_fill_the_same_records(cases):
    """Onset, nadir, recovery and scope as drez reports them, on the same injected drop."""
    sim, fixed = cases.analyse("focal_recovering", 0)
    _, sequential = cases.analyse("focal_recovering", 0, criteria="drez-cusum")
    assert sequential.criteria.name == "drez-cusum"
    assert focal_channels(sequential) == focal_channels(fixed) == list(
        sim.truth.focal_channels)
    event = sim.truth.events[0]
    onsets = sequential.sweeps.table["onset_s"].to_numpy()
    first_hit = int(np.flatnonzero(onsets >= event.start_s)[0])
    end_sweep = int(np.flatnonzero(onsets >= event.end_s)[0])
    by_channel = {a.channel: a for a in fixed.alerts}
    for alert in sequential.alerts:
        other = by_channel[alert.channel]
        assert (alert.criterion, alert.scope, alert.phase) == (other.criterion, "focal",
                                                               "lesioning")
        assert first_hit <= alert.onset_sweep <= other.onset_sweep
        assert alert.onset_s == pytest.approx(onsets[alert.onset_sweep])
        assert alert.recovered and end_sweep <= alert.recovery_sweep <= end_sweep + 5
        assert alert.recovery_s == pytest.approx(onsets[alert.recovery_sweep])
        assert alert.nadir_percent == pytest.approx(other.nadir_percent, abs=0.1)
        assert alert.controls_percent is not None and not alert.informational
        assert set(alert.as_dict()) == set(other.as_dict())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cusum_raises_no_alert_on_a_stable_case(cases, seed):
    _, result = cases.analyse("stable", seed, criteria="drez-cusum")
    assert result.alerts == ()


def test_cusum_finds_a_shallow_brief_drop_that_drez_misses(cases):
    """Ground truth: a 60 % drop of 6 sweeps on the legs; on this seed drez misses L TA."""
    options = dict(focal_level=0.4, focal_sweeps=6)
    sim, fixed = cases.analyse("focal_recovering", 3, **options)
    _, sequential = cases.analyse("focal_recovering", 3, criteria="drez-cusum", **options)
    assert "L TA" not in focal_channels(fixed)
    assert "L TA" in focal_channels(sequential)
    assert set(focal_channels(sequential)) <= set(sim.truth.focal_channels)
    event = sim.truth.events[0]
    [alert] = [a for a in sequential.alerts if a.channel == "L TA"]
    assert event.start_s <= alert.onset_s <= event.end_s
    assert alert.recovered and alert.nadir_percent < 50
