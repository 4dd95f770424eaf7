import numpy as np
import pytest

from audiogender import load_audio
from audiogender.settings import Settings
from audiogender.vad import CHUNK, CLIP_LEAD_SECONDS, regions_from_probabilities, short_clip_probabilities, speech_probabilities, speech_regions
from audiogender.windows import level_for_detection
from helpers import SAMPLES, harmonic_tone

DETECTOR = (Settings().vad_threshold, Settings().min_speech_seconds)  # the voice detector's settings by default


@pytest.fixture(scope="module")
def speech():
    return level_for_detection(load_audio(SAMPLES / "3436-172162-0000.ogg"))[0]  # 16.7 s: more than one ONNX call


def test_probabilities_are_silero_streaming_models(speech):
    torch = pytest.importorskip("torch")
    from silero_vad import load_silero_vad

    reference = load_silero_vad()  # the TorchScript model, one 32 ms chunk after another
    with torch.inference_mode():
        expected = reference.audio_forward(torch.from_numpy(speech), 16_000).numpy()[0]
    probs = speech_probabilities(speech)
    assert probs.shape == expected.shape == (-(-speech.size // CHUNK),)
    np.testing.assert_allclose(probs, expected, atol=1e-4)


@pytest.mark.parametrize("seconds", [0.03, 0.7, 2.3])
def test_a_short_clip_is_heard_as_after_silence(seconds, speech):
    clip = speech[16_000 : 16_000 + int(seconds * 16_000)]
    lead = int(CLIP_LEAD_SECONDS * 16_000) // CHUNK * CHUNK
    heard = speech_probabilities(np.pad(clip, (lead, 16_000)))  # the silence heard again, and a second after, which changes nothing
    np.testing.assert_allclose(short_clip_probabilities(clip), heard[lead // CHUNK : lead // CHUNK + -(-clip.size // CHUNK)], atol=1e-6)


@pytest.mark.parametrize("case", range(5))
def test_stretches_follow_silero_rules(case, speech):
    from silero_vad import get_speech_timestamps_from_probs

    rng = np.random.default_rng(case)
    # runs of speech-like and silence-like chunks, with probabilities in the hysteresis band too
    probs = np.repeat(rng.uniform(0, 1, 60), rng.integers(1, 20, 60)) if case else speech_probabilities(speech)
    n_samples = probs.size * CHUNK - int(rng.integers(0, CHUNK))
    for threshold, min_speech in ((0.5, 0.25), (0.3, 0.1), (0.7, 1.0)):
        ours = regions_from_probabilities(probs, n_samples, threshold, min_speech)
        theirs = get_speech_timestamps_from_probs(
            list(map(float, probs)), sampling_rate=16_000, threshold=threshold,
            min_speech_duration_ms=int(1000 * min_speech), audio_length_samples=n_samples,
        )  # fmt: skip
        assert ours == [(s["start"], s["end"]) for s in theirs]
    assert case or len(ours) > 0


def test_speech_is_found_and_a_buzz_is_not(speech):
    regions = speech_regions(speech, *DETECTOR)
    assert regions and sum(e - s for s, e in regions) > 0.5 * speech.size
    assert all(0 <= s < e <= speech.size for s, e in regions)
    assert speech_regions(harmonic_tone(150, 2.0), *DETECTOR) == []
    assert speech_regions(np.zeros(100, np.float32), *DETECTOR) == []
