"""Conditioning, measures and baseline against the simulator's ground truth."""

import numpy as np
import pytest

from iomon.baseline import compute_baseline, select_baseline_sweeps
from iomon.conditioning import bandpass, blank_artefact, find_stimulus_train, reject_sweeps
from iomon.errors import InputError
from iomon.measures import count_phases, measure, response_windows
from iomon.simulate import response_waveform


def truth_arrays(sim):
    amplitude = np.array(sim.truth["amplitude_uv"], dtype=float)
    latency = np.array(sim.truth["onset_latency_ms"], dtype=float)
    return amplitude, latency


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measures_match_ground_truth(cases, seed):
    sim, result = cases.analyse("stable", seed)
    amplitude, latency = truth_arrays(sim)
    m = result.measurements
    valid = ~result.rejected
    big = valid & np.isfinite(amplitude) & (amplitude >= 100)
    amp_error = np.abs(m.amplitude[big] * 1e6 - amplitude[big]) / amplitude[big]
    lat_error = np.abs(m.onset_latency[big] * 1e3 - latency[big])
    assert np.median(amp_error) <= 0.05
    assert np.nanmedian(lat_error) <= 0.5
    assert np.mean(m.present[big]) >= 0.99
    absent = np.isnan(amplitude) & valid
    assert np.mean(m.present[absent]) <= 0.01
    # Channels whose roots are all avulsed are absent at baseline, the others present.
    expected = [c["present"] for c in sim.truth["channels"]]
    assert result.baseline.present.tolist() == expected
    # Baseline amplitude close to the injected median (10 sweeps, CV up to 48 %).
    truth_base = np.array([c["baseline_amplitude_uv"] or np.nan for c in sim.truth["channels"]])
    ratio = result.baseline.amplitude[result.baseline.present] * 1e6 / truth_base[expected]
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_cautery_sweeps_are_rejected_and_nothing_else(cases):
    sim, result = cases.analyse("cautery", 0)
    contaminated = np.array(sim.truth["sweeps"]["contaminated"])
    assert contaminated.sum() >= 5
    rejected_any = result.rejected.any(axis=1)
    assert np.array_equal(rejected_any, contaminated)
    assert set(result.reject_reason[contaminated].ravel()) == {"noisy baseline"}


def test_phases_are_counted_on_a_known_waveform():
    sfreq = 10_000.0
    times = np.arange(-0.01, 0.06, 1 / sfreq)
    lobes = (np.array([0.002, 0.003, 0.002]), np.array([300e-6, -200e-6, 100e-6]))
    wave = response_waveform(times, 0.02, *lobes)[None, None, :]
    windows = np.array([[0.012, 0.05]])
    m = measure(wave, times, sfreq, windows, noise_sd=np.array([2e-6]))
    assert m.n_phases[0, 0] == 3
    assert m.amplitude[0, 0] == pytest.approx(500e-6, rel=1e-3)
    assert m.onset_latency[0, 0] == pytest.approx(0.020, abs=2e-4)
    assert m.duration[0, 0] == pytest.approx(0.007, abs=5e-4)
    assert m.present[0, 0]
    # Below the absolute floor it is not a response, however clean.
    m = measure(wave * 0.05, times, sfreq, windows, noise_sd=np.array([0.1e-6]))
    assert not m.present[0, 0] and np.isnan(m.onset_latency[0, 0])
    assert count_phases(wave, np.array([[-1]]), np.array([[-1]]), np.array([[1e-6]]))[0, 0] == 0


def test_artefact_is_found_and_blanked():
    sfreq = 5000.0
    times = np.arange(-0.01, 0.1, 1 / sfreq)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((6, 3, times.size)) * 5e-6
    for k in range(5):
        data[..., np.argmin(np.abs(times - 0.002 * k))] += 3e-3
    first, last = find_stimulus_train(data, times, sfreq)
    assert first == pytest.approx(0.0, abs=1 / sfreq) and last == pytest.approx(0.008, abs=2e-4)
    blanked = blank_artefact(data, times, first - 5e-4, last + 1.5e-3)
    assert np.abs(blanked).max() < 1e-4


def test_response_windows_follow_the_muscle():
    times = np.linspace(-0.01, 0.1, 551)
    windows = response_windows(["APB", "AH", None], times, not_before_s=0.01)
    assert windows[0, 0] < 0.020 < 0.025 < windows[0, 1]
    assert windows[1, 0] < 0.038 < 0.045 < windows[1, 1]
    assert windows[2].tolist() == [0.01, pytest.approx(0.1)]


def test_rejection_reasons():
    sfreq = 5000.0
    times = np.arange(-0.01, 0.1, 1 / sfreq)
    rng = np.random.default_rng(1)
    raw = rng.standard_normal((8, 1, times.size)) * 5e-6
    raw[1] = 0.0                               # flat line
    raw[2, 0, 200:260] = raw[2, 0].max() + 1e-3  # clipped at the rail
    raw[3, 0, times < 0] += rng.standard_normal((times < 0).sum()) * 1e-3  # burst
    raw[4, 0, 10] = np.nan
    filtered = bandpass(np.nan_to_num(raw), sfreq)
    rejected, reason = reject_sweeps(raw, filtered, times, sfreq=sfreq)
    assert reason[:5, 0].tolist() == ["", "flat", "clipped", "noisy baseline", "nan"]
    assert rejected[:5, 0].tolist() == [False, True, True, True, True]
    assert not rejected[5:].any()


def test_band_must_fit_the_sampling_rate():
    with pytest.raises(InputError, match="Nyquist"):
        bandpass(np.zeros((1, 1, 100)), 2000.0, (10.0, 1500.0))


def test_baseline_starts_at_the_marker_and_skips_rejected():
    onsets = np.arange(8) * 10.0
    phases = np.array(["pre-lesioning"] * 6 + ["lesioning"] * 2)
    valid = np.ones((8, 1), bool)
    valid[3] = False
    chosen = select_baseline_sweeps(onsets, phases, valid, start_s=15.0, n_sweeps=3)
    assert np.flatnonzero(chosen[:, 0]).tolist() == [2, 4, 5]
    amplitude = np.array([1, 1, 4, 9, 5, 6, 1, 1], float)[:, None]
    present = np.ones((8, 1), bool)
    base = compute_baseline(amplitude, amplitude * 0.01, present, chosen)
    assert base.amplitude[0] == 5.0 and base.present[0]
