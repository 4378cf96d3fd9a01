"""Facts about the muscles TcMEP monitoring records from, and reading them out of channel names.

The onset latencies are those of DESIGN.md section 2 (after the first pulse of the train); the
sweep-to-sweep coefficients of variation under steady propofol are Fried, Smith and Legatt's
(hand 48 %, abductor hallucis 35 %, tibialis anterior 27 %); the other muscles take the value of
their nearest neighbour. The root levels are the usual segmental innervation.

**Face and tongue muscles** (masseter, orbicularis oris, tongue) are recorded in TcMEP montages
too (inomed ISIS exports hold ``Masseter``, ``Orb oris`` and ``Hypogloss`` channels). Their
responses are corticobulbar, through cranial nerves V, VII and XII: they belong to no limb
(``limb`` None, ``cranial`` True), no spinal root, and they are not at risk in spinal surgery
(DREZ lesioning sits below them). Their latencies are short: masseter 6.9 +- 0.7 ms after
transcranial magnetic stimulation (PMID 1915039), orbicularis oris 7-11 ms (the same study)
and 10-14 ms after a multipulse transcranial electrical train (Dong et al. 2005, Clin
Neurophysiol 116:588-596), tongue 7.7-8.0 ms after TMS (Ghezzi & Baldini 1998, EEG Clin
Neurophysiol 109:114-118) and a median of 14 ms (IQR 13-19) after intraoperative TES (Sarnthein,
Albisser & Regli 2022, Clin Neurophysiol 138:148-152); the ranges below span them. Their
electrodes lie next to the stimulating ones, so their artefact is the largest and saturates
the amplifier through the train: it often hides their response, and it must never be taken
for a limb muscle's. No study gives their sweep-to-sweep variability under steady
anaesthesia; 50 % is assumed (the hand muscles' 48 %, the most variable known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MUSCLES", "looks_like_emg", "Muscle", "muscle_code", "parse_channel_name"]


@dataclass(frozen=True)
class Muscle:
    """One muscle: its short code, limb, roots, onset latency range and variability.

    Attributes
    ----------
    code : str
        Short name used throughout iomon, e.g. ``"TA"``.
    name : str
        Full anatomical name.
    limb : str or None
        ``"upper"`` or ``"lower"``; None for a face or tongue muscle.
    roots : tuple of str
        Spinal root levels that innervate it (the cranial nerve, ``"CN VII"``, for a face or
        tongue muscle).
    onset_s : tuple of float
        Typical onset latency range after the first pulse, in seconds.
    cv : float
        Sweep-to-sweep coefficient of variation of the amplitude under steady anaesthesia.
    cranial : bool
        A face or tongue muscle (corticobulbar response, next to the stimulating electrodes).
    """

    code: str
    name: str
    limb: str | None
    roots: tuple[str, ...]
    onset_s: tuple[float, float]
    cv: float
    cranial: bool = False


MUSCLES: dict[str, Muscle] = {
    m.code: m
    for m in (
        Muscle("Deltoid", "deltoid", "upper", ("C5", "C6"), (0.012, 0.016), 0.40),
        Muscle("Biceps", "biceps brachii", "upper", ("C5", "C6"), (0.012, 0.016), 0.40),
        Muscle("Triceps", "triceps brachii", "upper", ("C6", "C7", "C8"), (0.013, 0.017), 0.40),
        Muscle("ECR", "extensor carpi radialis", "upper", ("C6", "C7"), (0.015, 0.019), 0.45),
        # A channel named "Extensor" records the forearm extensors as a group (extensor carpi
        # radialis and extensor digitorum, C6-C8), with ECR's latency.
        Muscle("Extensors", "forearm extensors (ECR/EDC group)", "upper", ("C6", "C7", "C8"),
               (0.015, 0.020), 0.45),
        Muscle("APB", "abductor pollicis brevis", "upper", ("C8", "T1"), (0.020, 0.025), 0.48),
        Muscle("ADM", "abductor digiti minimi", "upper", ("C8", "T1"), (0.020, 0.025), 0.48),
        Muscle("FDI", "first dorsal interosseous", "upper", ("C8", "T1"), (0.020, 0.025), 0.48),
        Muscle("Quad", "quadriceps", "lower", ("L2", "L3", "L4"), (0.026, 0.030), 0.30),
        Muscle("TA", "tibialis anterior", "lower", ("L4", "L5"), (0.030, 0.035), 0.27),
        Muscle("Gastroc", "gastrocnemius", "lower", ("S1", "S2"), (0.033, 0.040), 0.30),
        # Soleus: TMS latencies of about 28-32 ms (spike2py's physiology.smr: 29 ms) and
        # TcMEP latencies up to that of gastrocnemius.
        Muscle("Soleus", "soleus", "lower", ("S1", "S2"), (0.028, 0.040), 0.30),
        Muscle("AH", "abductor hallucis", "lower", ("S1", "S2"), (0.038, 0.045), 0.35),
        Muscle("Masseter", "masseter", None, ("CN V",), (0.006, 0.013), 0.50, cranial=True),
        Muscle("OrbOris", "orbicularis oris", None, ("CN VII",), (0.008, 0.015), 0.50,
               cranial=True),
        Muscle("Tongue", "tongue (hypoglossal nerve)", None, ("CN XII",), (0.008, 0.019), 0.50,
               cranial=True),
    )
}

# Spellings seen in montage labels, lower case with separators removed, longest first when
# matched so that "tibant" wins over "ta".
# English, German and Latin spellings (inomed ISIS labels its channels "Deltoideus re",
# "Tib ant li", "Abd hall", "Orb oris", "Hypogloss").
_ALIASES: dict[str, str] = {
    "deltoid": "Deltoid", "delt": "Deltoid", "del": "Deltoid", "deltoideus": "Deltoid",
    "biceps": "Biceps", "bicep": "Biceps", "bic": "Biceps", "bi": "Biceps", "bizeps": "Biceps",
    "bicepsbrachii": "Biceps",
    "triceps": "Triceps", "tricep": "Triceps", "tri": "Triceps", "trizeps": "Triceps",
    "tricepsbrachii": "Triceps",
    "ecr": "ECR", "extcarprad": "ECR", "extensorcarpiradialis": "ECR",
    "extensor": "Extensors", "extensors": "Extensors", "edc": "Extensors",
    "extensordigitorum": "Extensors", "extdig": "Extensors",
    "apb": "APB", "abdpollbrev": "APB", "abductorpollicisbrevis": "APB", "thenar": "APB",
    "abdpoll": "APB", "abductorpollicis": "APB",
    "adm": "ADM", "abddigmin": "ADM", "abductordigitiminimi": "ADM", "hypothenar": "ADM",
    "fdi": "FDI", "firstdorsalinterosseous": "FDI", "interosseus": "FDI",
    "quad": "Quad", "quads": "Quad", "quadriceps": "Quad", "vl": "Quad", "vastuslateralis": "Quad",
    "rf": "Quad", "rectusfemoris": "Quad", "vm": "Quad", "quadrizeps": "Quad",
    "ta": "TA", "tibant": "TA", "tibialisanterior": "TA", "tib": "TA", "atib": "TA",
    "tibialis": "TA",
    "gastroc": "Gastroc", "gas": "Gastroc", "gastrocnemius": "Gastroc", "gs": "Gastroc",
    "mg": "Gastroc", "soleus": "Soleus", "sol": "Soleus",
    "ah": "AH", "abh": "AH", "abdhal": "AH", "abdhall": "AH", "abductorhallucis": "AH",
    "abdhallucis": "AH",
    "masseter": "Masseter", "mass": "Masseter",
    "orboris": "OrbOris", "orbicularisoris": "OrbOris", "oris": "OrbOris",
    "tongue": "Tongue", "hypogloss": "Tongue", "hypoglossus": "Tongue", "hypoglossal": "Tongue",
    "genioglossus": "Tongue", "zunge": "Tongue", "lingua": "Tongue",
}

# Side words: English, German (rechts/links, re/li), Italian and Latin (destra/sinistra:
# dx/sx; dexter/sinister), French (droite/gauche) and Spanish (derecho/izquierdo).
_SIDE_WORDS = {"l": "left", "lt": "left", "left": "left", "r": "right", "rt": "right",
               "right": "right", "re": "right", "rechts": "right", "li": "left",
               "links": "left", "dx": "right", "sx": "left", "dex": "right", "dext": "right",
               "dexter": "right", "sin": "left", "sinister": "left", "droit": "right",
               "droite": "right", "gauche": "left", "der": "right", "derecho": "right",
               "derecha": "right", "izq": "left", "izquierdo": "left", "izquierda": "left"}


# Labels of signals recorded beside EMG that are not muscles: respiration belts, flow and
# pressure transducers, heart signals, triggers and markers, EEG/EOG electrodes.
_NOT_EMG = re.compile(
    r"\b(resp\w*|belt|rc|abdo\w*|thora\w*|chest|flow|volume|co2|pressure|bp|map|ecg|ekg|"
    r"hr|heart|pulse|spo2|sat|temp\w*|trig\w*|stim\w*|status|marker|event|sync\w*|eog|eeg|"
    r"photo\w*|optic|light|force|torque|position|angle|acc\w*|gyro\w*|magnet)\b",
    re.IGNORECASE)


def looks_like_emg(name: str, muscle: str | None) -> bool | None:
    """Whether a channel records EMG, as far as its label and muscle tell.

    True for a known muscle, False for a label naming another signal (respiration, pressure,
    ECG, trigger...), None when the label does not say.
    """
    if muscle in MUSCLES:
        return True
    if _NOT_EMG.search(name.replace("_", " ")):
        return False
    return None


def _muscle_from_token(token: str) -> str | None:
    key = re.sub(r"[^a-z]", "", token.lower())
    return _ALIASES.get(key) or _CODES.get(key)


_CODES = {code.lower(): code for code in MUSCLES}


def muscle_code(text: str) -> str | None:
    """The code of a muscle named in any spelling the label reader knows; None if unknown.

    ``"Delt"``, ``"deltoideus"``, ``"Tib ant"``, ``"tibialis anterior"``, ``"ta"`` and ``"TA"``
    all give a code of :data:`MUSCLES`; a side word is not part of a muscle's name.
    """
    return _muscle_from_token(text)


def parse_channel_name(name: str) -> tuple[str | None, str | None]:
    """Read the side and muscle out of a channel label.

    Understands ``"L TA"``, ``"TA-L"``, ``"Lt TA"``, ``"Left Tib Ant"``, ``"LTA"``, ``"R APB"``,
    ``"Rt. AH"`` and similar. A label that cannot be read gives ``None`` for the part that is
    not understood, never a guess.

    Parameters
    ----------
    name : str
        The channel label as stored in the recording.

    Returns
    -------
    side : str or None
        ``"left"``, ``"right"`` or None.
    muscle : str or None
        A key of :data:`MUSCLES` or None.
    """
    tokens = [t for t in re.split(r"[\s\-_.,/()]+", name.strip()) if t]
    if not tokens:
        return None, None
    side = None
    rest = list(tokens)
    for index in (0, len(tokens) - 1):
        word = tokens[index].lower()
        if word in _SIDE_WORDS:
            side = _SIDE_WORDS[word]
            rest = tokens[:index] + tokens[index + 1:]
            break
    if rest:
        muscle = _muscle_from_token("".join(rest))
        if muscle is None and len(rest) > 1:
            # Trailing electrode or montage words ("TA 1", "APB+") are not part of the muscle.
            muscle = _muscle_from_token(rest[0])
    else:
        muscle = None
    if side is None and len(tokens) == 1 and muscle is None:
        # Glued styles such as "LTA" or "RAPB": a leading L or R followed by a known muscle.
        head, tail = tokens[0][:1].lower(), tokens[0][1:]
        glued = _muscle_from_token(tail) if head in ("l", "r") and len(tail) >= 2 else None
        if glued is not None:
            return _SIDE_WORDS[head], glued
    return side, muscle
