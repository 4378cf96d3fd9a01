import numpy as np
import pytest

from iomon.model.errors import InputError
from iomon.model.muscles import MUSCLES
from iomon.sim import SCENARIOS, Schedule, simulate_case
from iomon.sim.schedule import SHORT_SCHEDULE
from iomon.sim.writing import write_edf


def test_same_seed_same_case_other_seed_other_case():
    a = simulate_case("stable", 5, time_compression=60)
    b = simulate_case("stable", 5, time_compression=60)
    c = simulate_case("stable", 6, time_compression=60)
    np.testing.assert_array_equal(a.signals, b.signals)
    assert a.signals.shape != c.signals.shape or not np.array_equal(a.signals, c.signals)


def test_physiology_follows_the_design_notes():
    sim = simulate_case("stable", 1, time_compression=60)
    truth = sim.truth
    by_name = {c.name: c for c in truth.channels}
    # C5-C8 avulsed on the left: deltoid and biceps (C5-C6) have no response at all.
    assert not by_name["L Deltoid"].present and not by_name["L Biceps"].present
    assert by_name["R Deltoid"].present and by_name["L TA"].present
    amplitude = np.array(truth.amplitude_uv, dtype=float)
    names = [c.name for c in truth.channels]
    assert np.isnan(amplitude[:, names.index("L Deltoid")]).all()
    # Partial avulsion (C8 of C8-T1) halves the hand muscles on average.
    assert by_name["L APB"].baseline_amplitude_uv < by_name["R APB"].baseline_amplitude_uv
    for c in truth.channels:
        low, high = MUSCLES[c.muscle].onset_s
        assert low * 1e3 <= c.onset_latency_ms <= high * 1e3
    # Log-normal variability close to the literature CV for a muscle with many sweeps.
    rows = np.array(truth.sweeps.intensity_v) == 400
    ta = amplitude[rows, names.index("R TA")]
    assert 0.15 < np.std(ta) / np.mean(ta) < 0.40
    # Schedule: routine sweeps 1-2 min apart, lesioning 10-30 s apart (surgical clock).
    nominal = np.array(truth.sweeps.nominal_s)
    phase = np.array(truth.sweeps.surgical_phase)
    gaps = np.diff(nominal)
    assert np.all(gaps[phase[:-1] == "lesioning"][:-1] <= 30.0)
    assert np.median(gaps[phase[:-1] == "exposure"]) >= 60.0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_has_ground_truth(scenario):
    sim = simulate_case(scenario, 0, time_compression=60)
    truth = sim.truth
    n = len(truth.sweeps.onset_s)
    assert np.array(truth.amplitude_uv, dtype=float).shape == (n, 12)
    assert sum(a.text.startswith("TcMEP") for a in sim.annotations) == n
    texts = {a.text for a in sim.annotations}
    assert {"Baseline", "DREZ lesioning start", "DREZ lesioning end"} <= texts
    if scenario in ("focal_recovering", "focal_persistent", "loss", "threshold",
                    "systemic_focal"):
        assert truth.focal_channels == ("L AH", "L TA")
    else:
        assert truth.focal_channels == ()
    assert truth.systemic_expected is scenario.startswith("systemic")


def test_injected_drop_is_in_the_truth():
    sim = simulate_case("focal_persistent", 2, time_compression=60)
    truth = sim.truth
    names = [c.name for c in truth.channels]
    amplitude = np.array(truth.amplitude_uv, dtype=float)
    onsets = np.array(truth.sweeps.onset_s)
    event = truth.events[0]
    hit = onsets >= event.start_s
    ta = amplitude[:, names.index("L TA")]
    control = amplitude[:, names.index("R TA")]
    assert np.median(ta[hit]) < 0.35 * np.median(ta[~hit])
    assert np.median(control[hit]) > 0.7 * np.median(control[~hit])


def test_threshold_scenario_chases_the_leg_threshold():
    truth = simulate_case("threshold", 0, time_compression=60).truth
    intensity = np.array(truth.sweeps.intensity_v)
    phase = np.array(truth.sweeps.surgical_phase)
    amplitude = np.array(truth.amplitude_uv, dtype=float)
    names = [c.name for c in truth.channels]
    ta = np.nan_to_num(amplitude[:, names.index("L TA")])
    # Ramp-up, then threshold-level monitoring at 300 V until the leg threshold rises.
    assert list(intensity[:3]) == [150.0, 200.0, 250.0]
    assert np.all(intensity[phase == "exposure"] == 300.0)
    assert intensity.max() - 300 >= 100
    assert np.all(np.diff(intensity) % 50 == 0)
    # The team steps up after a sweep without a leg response, and probes 50 V lower now and
    # then: failures below, responses above, which bracket the threshold.
    raised = np.flatnonzero(np.diff(intensity) > 0)
    raised = raised[raised >= 3]  # after the ramp-up
    legs = amplitude[:, [names.index("L TA"), names.index("L AH")]]
    assert np.all(np.nan_to_num(legs[raised]).min(axis=1) < 30)
    weakest = np.nan_to_num(legs).min(axis=1)
    late = phase == "closure"
    assert (weakest[late][intensity[late] < intensity[late].max()] < 30).any()
    assert (ta[late][intensity[late] == intensity[late].max()] >= 30).mean() > 0.8


def test_bad_parameters():
    with pytest.raises(InputError, match="unknown scenario"):
        simulate_case("meteor")
    with pytest.raises(InputError, match="160 ms"):
        simulate_case("stable", time_compression=500)
    with pytest.raises(InputError, match="mains"):
        simulate_case("stable", mains_hz=55)


def test_brief_shallow_focal_drop():
    truth = simulate_case("focal_recovering", 4, time_compression=60, focal_level=0.4,
                          focal_sweeps=3).truth
    event = truth.events[0]
    onsets = np.array(truth.sweeps.onset_s)
    hit = (onsets >= event.start_s) & (onsets < event.end_s)
    assert hit.sum() == 3 and event.level == 0.4
    with pytest.raises(InputError, match="focal_level"):
        simulate_case("focal_recovering", focal_level=1.5)
    with pytest.raises(InputError, match="focal_sweeps"):
        simulate_case("focal_recovering", focal_sweeps=0)


def test_truth_file_reads_back_as_the_typed_truth(tmp_path):
    """Issue 10: the truth is a typed structure; its JSON file round-trips."""
    from iomon.sim import read_truth, write_simulated_case

    sim = simulate_case("systemic_focal", 1, time_compression=60)
    path = write_simulated_case(sim, tmp_path)
    back = read_truth(path.with_suffix(".truth.json"))
    assert back.to_dict() == sim.truth.to_dict()
    assert [e.kind for e in back.events] == ["systemic", "focal"]
    assert back.events[1].level == pytest.approx(0.3 * 0.2)
    np.testing.assert_array_equal(np.isnan(back.amplitude_uv), np.isnan(sim.truth.amplitude_uv))


def _edfio_whole_recording(sim, path):
    """The simulated recording written by edfio from the whole array (the reference)."""
    import datetime

    from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

    signals = []
    for ch, data in zip(sim.channels, sim.signals * 1e6):
        low, high = float(np.floor(data.min())) - 1.0, float(np.ceil(data.max())) + 1.0
        signals.append(EdfSignal(data, sim.sfreq, label=ch.name, transducer_type="AgAgCl",
                                 physical_dimension="uV", physical_range=(low, high),
                                 prefiltering="HP:0.1Hz LP:2500Hz"))
    Edf(signals, patient=Patient(code="SIM001", sex="X", name="Synthetic_Patient"),
        recording=Recording(startdate=datetime.date(2024, 1, 1),
                            hospital_administration_code="SIM",
                            investigator_technician_code="iomon",
                            equipment_code="iomon.simulate"),
        starttime=datetime.time(8, 0, 0), data_record_duration=1.0,
        annotations=[EdfAnnotation(a.onset_s, None, a.text) for a in sim.annotations]
        ).write(path)


@pytest.mark.parametrize("scenario, sfreq", [("focal_recovering", 5000.0),
                                             ("cautery", 10000.0)])
def test_streamed_edf_is_byte_for_byte_what_edfio_writes(tmp_path, scenario, sfreq):
    sim = simulate_case(scenario, 3, sfreq=sfreq, schedule=SHORT_SCHEDULE)
    write_edf(sim, tmp_path / "streamed.edf")
    _edfio_whole_recording(sim, tmp_path / "whole.edf")
    assert (tmp_path / "streamed.edf").read_bytes() == (tmp_path / "whole.edf").read_bytes()


def test_a_long_recording_is_simulated_and_written_in_bounded_memory(tmp_path):
    """Four minutes in real time at 5 kHz (94 MB as float64) written within a few blocks."""
    import tracemalloc

    import edfio  # noqa: F401  (imports allocate too: done before tracing)
    import scipy.signal  # noqa: F401

    schedule = Schedule(positioning_min=0.5, exposure_min=1.5, lesioning_min=2.0,
                        closure_min=1.0, routine_interval_s=(2.0, 2.0),
                        lesioning_interval_s=(2.0, 2.0))
    tracemalloc.start()
    try:
        sim = simulate_case("focal_recovering", 1, sfreq=5000.0, schedule=schedule,
                            time_compression=1.0, muscles=("APB", "ADM", "TA", "AH"))
        write_edf(sim, tmp_path / "long.edf")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    whole = sim.plan.n_channels * sim.plan.n_samples * 8
    assert whole > 90e6
    assert peak < whole / 5, f"peak {peak / 1e6:.0f} MB for a {whole / 1e6:.0f} MB recording"
    assert (tmp_path / "long.edf").stat().st_size > whole / 4.5  # 16-bit samples, all written


def test_acquisition_is_drawn_as_theatres_differ():
    """Rates, trains, amplifiers and windows differ from seed to seed; the case's other draws
    (its physiology) are those of the fixed setting's case with the same seed."""
    import numpy as np

    from iomon.sim import FIXED, draw_acquisition

    drawn = [draw_acquisition(np.random.default_rng(seed)) for seed in range(60)]
    assert len({a.sfreq for a in drawn}) >= 5
    assert {a.train.polarity for a in drawn} == {"same", "alternating"}
    assert any(a.train.magnetic for a in drawn) and any(a.input_range_v for a in drawn)
    assert {a.window_s[0] for a in drawn} >= {0.0, -0.010}
    assert all(1 <= a.train.n_pulses <= 9 for a in drawn)
    assert all(a.train.duration_s <= 0.025 for a in drawn)
    fixed = simulate_case("stable", 4, time_compression=40)
    other = simulate_case("stable", 4, time_compression=40, acquisition="drawn")
    assert fixed.plan.acquisition is FIXED and not other.plan.acquisition.fixed
    assert other.truth.train["acquisition"] == other.plan.acquisition.to_dict()
    assert "acquisition" not in fixed.truth.train  # the fixed setting's truth is unchanged
    assert np.array_equal(fixed.truth.sweeps.nominal_s, other.truth.sweeps.nominal_s)


def test_drawn_pulses_land_off_the_sample_grid_within_a_sample():
    import numpy as np

    from iomon.sim.acquisition import Acquisition, StimulusTrain, pulse_times

    acq = Acquisition(sfreq=5000.0, train=StimulusTrain(5, 0.0032), jitter_samples=1.0)
    at = pulse_times(acq, 400, np.random.default_rng(0))
    off_grid = at - np.arange(5) * 0.0032
    spread = off_grid - off_grid[:, :1]
    assert np.abs(spread).max() <= 1 / 5000.0 + 1e-12
    assert np.abs(spread[:, 1:]).max() > 0.8 / 5000.0  # a whole sample early or late happens
    assert np.ptp(off_grid[:, 0] * 5000.0) > 0.9  # the train starts anywhere between samples


def test_a_saturated_amplifier_holds_the_rail_and_recovers_after_the_train():
    import numpy as np

    from iomon.processing.conditioning import rail_samples
    from iomon.sim.acquisition import Acquisition, StimulusTrain
    from iomon.sim.sweeps import simulate_sweeps

    acq = Acquisition(sfreq=20000.0, train=StimulusTrain(5, 0.004, width_s=0.0005),
                      jitter_samples=1.0, input_range_v=2.5e-3, recovery_s=0.002,
                      window_s=(-0.01, 0.1))
    sim = simulate_sweeps(acq, ("TA", "TA"), (False, False), artefact_v=(8e-3, 0.5e-3))
    big, small = sim.data[:, 0], sim.data[:, 1]
    assert sim.saturated.tolist() == [True, False]
    held = rail_samples(big)  # most sweeps at their extreme, two samples or more in a row
    train = (sim.times >= 0) & (sim.times < 0.017)
    assert held[train].mean() > 0.2 and not held[sim.times > 0.025].any()
    assert not rail_samples(small).any()
    # After the train the saturated channel is still far from its level when the other is not.
    after = np.argmin(np.abs(sim.times - 0.019))
    level = np.median(sim.data[:, :, sim.times < -0.001], axis=-1)
    assert np.abs(big[:, after] - level[:, 0]).min() > 10 * np.abs(
        small[:, after] - level[:, 1]).max()
