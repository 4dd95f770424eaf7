"""The voice decision, end to end: what holds a voice gets a gender, what does not answers no voice."""

import numpy as np
import pytest

import audiogender
from audiogender import load_audio
from audiogender.audio import frame_rms, loud_level
from audiogender.lab.signals import signals
from audiogender.labels import NO_VOICE
from audiogender.vad import CHUNK, speech_probabilities
from audiogender.voice import VoiceHead, active_span, shipped_detector
from audiogender.windows import _piece_level, level_for_detection
from helpers import SAMPLES, harmonic_tone


@pytest.fixture(scope="module")
def model():
    return audiogender.load_model(kind="cnn", device="cpu")


def test_the_sounding_part_of_a_clip_is_found_and_silence_has_none():
    word = harmonic_tone(150, 0.4)
    clip = np.concatenate([np.zeros(8_000, np.float32), word, np.zeros(16_000, np.float32)])
    start, end = active_span(clip)
    assert 8_000 - 1_500 < start <= 8_000 and 8_000 + word.size <= end < 8_000 + word.size + 1_500  # widened a little, never cut
    assert active_span(np.zeros(16_000, np.float32)) == (0, 0)


def test_a_pieces_level_from_the_whole_clips_frames_is_its_own():
    clip = level_for_detection(load_audio(SAMPLES / "3436-172162-0000.ogg"))[0][:80_000]
    rms = frame_rms(clip)
    start, end = active_span(clip, rms=rms)
    for a, b in ((start, end), (1_600, 30_001), (0, clip.size), (3_200, 3_600)):
        assert _piece_level(rms, a, b) == pytest.approx(loud_level(clip[a:b]), rel=1e-9)
    assert _piece_level(rms, 1_601, 30_000) is None and _piece_level(rms, 1_600, 1_900) is None  # frames that are not the whole's


@pytest.mark.parametrize("seconds", [0.3, 1.0, 4.0])
def test_made_up_sounds_of_every_kind_answer_no_voice(model, seconds):
    # ten draws of every kind; one in a thousand may pass (a 0.3 s pure tone that Silero takes for speech did)
    heard = [(kind, draw) for draw in range(10) for kind, sound in signals(seconds, random_state=draw).items() if model.predict(sound).label != NO_VOICE]
    assert len(heard) <= 1, heard


def tight_words(speech: np.ndarray, seconds: float = 0.3) -> list[np.ndarray]:
    """Pieces of ``seconds`` cut from inside the words Silero is surest of: clips trimmed tighter than any corpus's."""
    confident = np.flatnonzero(np.diff(np.r_[0, (speech_probabilities(speech) >= 0.9).astype(int), 0]))
    return [speech[(s + 2) * CHUNK : (s + 2) * CHUNK + int(seconds * 16_000)] for s, e in zip(confident[::2], confident[1::2]) if e - s >= 8]


def test_a_word_cut_tight_is_a_voice_at_16_and_8_khz(model):
    soxr = pytest.importorskip("soxr")
    speech = level_for_detection(load_audio(SAMPLES / "3436-172162-0000.ogg"))[0]
    words = tight_words(speech)
    assert len(words) >= 4
    for word in words:
        for clip in (word, soxr.resample(soxr.resample(word, 16_000, 8_000), 8_000, 16_000)):
            clip = clip.astype(np.float32)
            answer = model.predict(clip)
            assert answer.label != NO_VOICE and answer.speech_seconds > 0.1, answer


def test_the_shipped_detector_carries_its_head_and_the_voices_the_repo_ships_are_voices(model):
    detector = shipped_detector()
    assert isinstance(detector.head, VoiceHead) and detector.features.kind == "logmel"
    low, high = detector.head.sure
    assert low <= high
    assert VoiceHead.from_json(detector.head.to_json()) == detector.head
    robin = model.predict(SAMPLES / "456440__inspectorj__bird-whistling-robin-single-13.ogg")
    assert robin.label == NO_VOICE and robin.speech_seconds == 0.0
    for name in ("cmu_arctic_us_aew_a0001.wav", "p240_00000.mp3", "198-209-0000.ogg"):
        assert model.predict(SAMPLES / name).label != NO_VOICE, name
