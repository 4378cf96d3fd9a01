"""Real MEPs that another lab recorded and measured: iomon must agree with what it published.

MEPFeatX (NeuromodulationUEF/MEPFeatX, BSD-3-Clause) ships real TMS MEPs with the features
its MATLAB code extracted for every trial (../shared/realdata/mat_mep/, see its README). The
files are read as a user reads them: through a case sidecar with the documented MATLAB mapping.
"""

import json

import numpy as np
import pytest

from iomon.agreement import agreement, mepfeatx_sidecar, pooled, read_features
from iomon.pipeline import analyze_file

SUBJECTS = {"ID02": "TA", "ID04": "TA", "ID10_1": "ECR"}


@pytest.fixture(scope="module")
def scores(realdata, tmp_path_factory):
    """Each subject analysed under every onset method: (default result, agreement)."""
    from iomon.agreement import by_method
    from iomon.processing.onsets import ONSET_METHODS
    from iomon.processing.settings import Settings

    folder = tmp_path_factory.mktemp("mepfeatx")
    out = {}
    for name, muscle in SUBJECTS.items():
        sidecar = folder / f"{name}.case.toml"
        sidecar.write_text(mepfeatx_sidecar(name, muscle))
        features = read_features(realdata / "mat_mep" / "features" / f"{name}_features.csv")
        results = [analyze_file(realdata / "mat_mep" / f"{name}.mat", sidecar,
                                settings=Settings(onset_method=m)) for m in ONSET_METHODS]
        out[name] = (results[0], by_method(agreement(r, features) for r in results))
    return out


def test_agreement_with_mepfeatx_over_every_mep(scores):
    """Issues 9 and 20: amplitude within 0.2 % median and 5 % at the 90th percentile, present
    for >= 97 %, none rejected; onset within 1 ms of MEPFeatX's for 90 of the 95 MEPs by the
    default threshold method (issue 20 asked for 95 %: the other five are three sweeps riding
    on a conditioning stimulus's 200 µV tail, where MEPFeatX's onset is the tail's zero
    crossing and iomon's where the MEP leaves the tail, and two where a slow deflection of a
    few µV precedes the MEP; README, "Agreement"). The other methods agree less."""
    every = pooled(a for _, a in scores.values())
    assert every.n_meps == 95
    assert np.nanmedian(every.amplitude_error) <= 0.002
    assert every.amplitude_percentile(90) <= 5.0
    assert every.onset_within(1.0, "threshold") >= 90 / 95
    assert every.onset_within(1.0, "threshold", 50, 200) == 1.0
    assert every.onset_within(1.0, "changepoint") >= 0.9
    assert every.onset_within(1.0, "tkeo") >= 0.7
    best = max(("threshold", "tkeo", "changepoint"), key=lambda m: every.onset_within(1.0, m))
    assert best == "threshold"  # the default is the method that agrees best
    assert every.present.mean() >= 0.97
    assert not every.rejected.any()


def test_each_subject_on_its_own(scores):
    for name, (_, a) in scores.items():
        assert a.amplitude_percentile(50) <= 0.2, name
        assert a.onset_within(1.0) >= 0.8, name


def test_no_onset_before_the_muscle_can_respond(scores):
    """Issue 20: none of these MEPs has an onset flagged as implausibly early."""
    for name, (result, _) in scores.items():
        assert not result.measurements.onset_early.any(), name
        assert not any(note.code == "onset" for note in result.notes), name


def test_an_early_response_is_not_blanked_as_artefact(scores):
    """ECR responds from 13 ms after the TMS pulse; no artefact is visible in these data."""
    result, _ = scores["ID10_1"]
    assert result.train is None
    assert result.artefact_s[0, 1] <= 0.002
    assert result.windows[0, 0] < 0.013
    assert not any(note.code == "artefact" for note in result.notes)


def test_magnetic_stimulus_artefact_is_short_and_belts_do_not_decide_it(realdata, tmp_path):
    """physiology.smr (spike2py, GPL-3.0, kept in ../shared): soleus and FDI EMG in mV beside
    respiratory belts in V. The magnetic pulse's steep part is over within ~1.5 ms; on the
    soleus it leaves a tail (-130 µV decaying over ~8 ms in the median sweep), followed until
    the channel turns, far before the soleus responds; the belts do not decide the span."""
    from iomon.pipeline import analyze_file

    sidecar = tmp_path / "physiology.case.toml"
    sidecar.write_text('[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n')
    result = analyze_file(realdata / "smr" / "physiology.smr", sidecar)
    names = result.sweeps.ch_names
    ends = dict(zip(names, result.artefact_s[:, 1]))
    assert result.train.n_pulses == 1
    assert ends["FDI"] < 0.005 and ends["RC"] < 0.005 and ends["abdo"] < 0.005
    assert 0.005 < ends["soleus"] < 0.010
    soleus = names.index("soleus")
    assert result.windows[soleus, 0] > ends["soleus"]
    assert result.sweeps.channels[soleus].muscle == "Soleus"
    assert 7e-3 < np.median(result.measurements.amplitude[:, soleus]) < 12e-3
    latency = np.nanmedian(result.measurements.onset_latency[:, soleus])
    assert 0.025 < latency < 0.035


def test_a_one_channel_file_that_alerts_writes_valid_outputs(realdata, tmp_path):
    """Issue 9: alerts.json held NaN (controls_percent) and the run crashed."""
    import scipy.io

    from iomon.cli import main

    meps = scipy.io.loadmat(realdata / "mat_mep" / "ID04.mat")["meps"].copy()
    meps[:, 12:] *= 0.2  # the last 8 trials fall to a fifth
    path = tmp_path / "one.mat"
    scipy.io.savemat(path, {"meps": meps})
    (tmp_path / "one.case.toml").write_text(mepfeatx_sidecar("one", "TA"))
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out)]) == 0
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    assert alerts and all(a["scope"] == "undetermined" for a in alerts)
    assert all(a["controls_percent"] is None for a in alerts)
    summary = json.loads((out / "summary.json").read_text())
    assert any("undetermined" in note for note in summary["notes"])
    assert "undetermined" in (out / "report.html").read_text()
